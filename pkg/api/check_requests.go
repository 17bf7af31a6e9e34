package api

import (
	"fmt"
	"strings"
	"unicode"
)

// Check methods validate the bounds of a request that every store can
// hold; the server calls them when it decodes a body (422 on failure) and
// the supervisor keeps its reports inside them.

// Check bounds the input's JSON and the timeout.
func (r SubmitTaskRequest) Check() []FieldError {
	var errs []FieldError
	if len(r.Input) > 0 {
		if err := CheckJSON(r.Input); err != nil {
			errs = append(errs, FieldError{Field: "input", Message: "must be storable JSON: " + err.Error()})
		}
	}
	if r.TimeoutSeconds > MaxTimeoutSeconds {
		errs = append(errs, FieldError{Field: "timeout_seconds", Message: fmt.Sprintf("must be at most %d (366 days)", MaxTimeoutSeconds)})
	}
	return errs
}

// Check bounds the reported usage.
func (r HeartbeatRequest) Check() []FieldError { return checkUsage(r.Usage) }

// Check bounds the output's JSON and the reported usage.
func (r CompleteRequest) Check() []FieldError {
	errs := checkUsage(r.Usage)
	if len(r.Output) > 0 {
		if err := CheckJSON(r.Output); err != nil {
			errs = append(errs, FieldError{Field: "output", Message: "must be storable JSON: " + err.Error()})
		}
	}
	return errs
}

// Check bounds the reported usage.
func (r FailRequest) Check() []FieldError { return checkUsage(r.Usage) }

// Check bounds a stream's channel (CheckChannel); a channel needs Stream.
func (r LogsRequest) Check() []FieldError {
	if r.Channel != "" && !r.Stream {
		return []FieldError{{Field: "channel", Message: "needs stream: true"}}
	}
	if err := CheckChannel(r.Channel); err != nil {
		return []FieldError{{Field: "channel", Message: err.Error()}}
	}
	return nil
}

// CheckChannel reports why c cannot name a token stream: at most
// MaxChannelBytes of valid UTF-8, without control characters or spaces
// (it prints as "[c] line"). "" is no channel, and valid.
func CheckChannel(c string) error {
	if err := CheckText(c); err != nil {
		return err
	}
	if len(c) > MaxChannelBytes {
		return fmt.Errorf("must be at most %d bytes", MaxChannelBytes)
	}
	if strings.ContainsFunc(c, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return fmt.Errorf("must not hold spaces or control characters")
	}
	return nil
}

func checkUsage(u *UsageReport) []FieldError {
	if u == nil {
		return nil
	}
	return CheckUsage(*u, "usage")
}
