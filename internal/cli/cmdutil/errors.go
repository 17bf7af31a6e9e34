// Package cmdutil holds what every baton command shares: the Factory that
// gives commands their I/O, config, client and printer, and the errors that
// map to exit codes.
package cmdutil

import (
	"errors"
	"fmt"
)

// Exit codes of CONTRACT.md.
const (
	ExitOK            = 0
	ExitFailure       = 1
	ExitUsage         = 2
	ExitNotFound      = 3
	ExitAuth          = 4
	ExitRateLimited   = 5
	ExitQuota         = 6
	ExitWaitTimeout   = 7
	ExitTaskFailed    = 10
	ExitTaskCancelled = 11
	ExitTaskStopped   = 12
	ExitInterrupted   = 130
)

// FlagError is a usage error: bad flags or arguments (exit 2).
type FlagError struct{ Err error }

func (e *FlagError) Error() string { return e.Err.Error() }
func (e *FlagError) Unwrap() error { return e.Err }

// FlagErrorf returns a FlagError with a formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{Err: fmt.Errorf(format, args...)}
}

// ExitError ends the command with Code; Err (optional) is printed.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// HintError adds a hint to an error: what the user can do about it.
type HintError struct {
	Err  error
	Hint string
}

func (e *HintError) Error() string { return e.Err.Error() }
func (e *HintError) Unwrap() error { return e.Err }

// WithHint wraps err with a hint.
func WithHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &HintError{Err: err, Hint: hint}
}

// ErrSilent ends the command with exit 1 without printing (the command has
// printed already).
var ErrSilent = errors.New("silent error")

// AuthError is a local authentication problem, such as no credential
// configured (exit 4, as a 401 from the server would be).
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// ErrNotLoggedIn is returned when no API key is configured.
var ErrNotLoggedIn = WithHint(&AuthError{Err: errors.New("not logged in: no API key")},
	"run `baton login`, set BATON_API_KEY, or pass --api-key")
