package client

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/genericcorp/baton/pkg/api"
)

// APIError is a problem response of the server (or of a proxy in front of it).
type APIError struct {
	// Status is the HTTP status of the response.
	Status int
	// Code is the problem's stable code; for a response without a problem
	// body it is api.CodeForStatus(Status).
	Code   api.Code
	Title  string
	Detail string
	// RequestID is the response's X-Request-Id, else the problem's request_id.
	RequestID string
	// Errors names each invalid field of a validation_failed problem.
	Errors []api.FieldError
	// RetryAfter is the response's Retry-After (0 when absent).
	RetryAfter time.Duration

	body []byte // the raw response body, for callers such as Ready
}

// Error returns e.g. "not_found: key key_1 not found (request req_1)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	for i, fe := range e.Errors {
		if i == 0 {
			b.WriteString(" [")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(fe.Field + ": " + fe.Message)
		if i == len(e.Errors)-1 {
			b.WriteString("]")
		}
	}
	if e.RequestID != "" {
		b.WriteString(" (request " + e.RequestID + ")")
	}
	return b.String()
}

// IsCode reports whether err is, or wraps, an *APIError with the given code.
func IsCode(err error, code api.Code) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}

// newAPIError builds the error of a non-2xx response from its body. A body
// that is not a problem (a proxy's plain-text 502, say) gives the code
// api.CodeForStatus(status) and, for plain text, a short detail.
func newAPIError(resp *http.Response, body []byte, now time.Time) *APIError {
	e := &APIError{
		Status:     resp.StatusCode,
		RequestID:  resp.Header.Get(api.HeaderRequestID),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
		body:       body,
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var p api.Problem
	isJSON := mt == api.ProblemContentType || mt == "application/json"
	if isJSON && json.Unmarshal(body, &p) == nil && (p.Code != "" || mt == api.ProblemContentType) {
		e.Code, e.Title, e.Detail, e.Errors = p.Code, p.Title, p.Detail, p.Errors
		if e.RequestID == "" {
			e.RequestID = p.RequestID
		}
	} else if mt == "" || mt == "text/plain" {
		e.Detail = snippet(body, 200)
	}
	if e.Code == "" {
		e.Code = api.CodeForStatus(resp.StatusCode)
	}
	if e.Title == "" {
		if e.Title = http.StatusText(resp.StatusCode); e.Title == "" {
			e.Title = e.Code.Title()
		}
	}
	return e
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// It returns 0 when v is absent, invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*365*time.Hour/time.Second) { // avoid overflow
			n = int64(24 * 365 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// snippet returns text as one line of at most n runes.
func snippet(text []byte, n int) string {
	if !utf8.Valid(text) {
		return ""
	}
	s := strings.Join(strings.Fields(string(text)), " ")
	if utf8.RuneCountInString(s) > n {
		r := []rune(s)
		s = string(r[:n]) + "…"
	}
	return s
}

// ResponseError returns the *APIError of a non-2xx response whose body was
// read into body: for callers that send their own requests (`baton api`)
// and want the same errors, exit codes and hints as the typed methods.
func ResponseError(resp *http.Response, body []byte) *APIError {
	return newAPIError(resp, body, time.Now())
}
