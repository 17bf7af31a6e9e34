// Package agent is the Go helper for programs that baton's worker runs:
// durable steps, sleeps, waits for signals, child tasks, token streams and
// usage, through the step endpoint the supervisor serves each attempt
// (BATON_STEP_URL, BATON_STEP_TOKEN; docs/steps.md).
//
// Every attempt runs the program from the top. A step already recorded in
// the task's journal answers at once with its recorded output, without
// running and without being metered again:
//
//	pages, err := agent.Run(ctx, "fetch", func(ctx context.Context) (int, error) {
//		return fetch(ctx, agent.StepOf(ctx).IdempotencyKey)
//	})
//	if err != nil {
//		os.Exit(agent.ExitCode(err)) // 75 when the task now waits
//	}
//
// When the task must wait (a long sleep, a signal, a child, its budget) a
// call returns ErrSuspended: the program should exit (ExitCode 75); the
// supervisor stops it anyway, and the next attempt replays to the wait.
//
// Package agenttest fakes the endpoint, with the server's replay rules, for
// an agent's own tests.
package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// Sentinel errors (test with errors.Is).
var (
	// ErrSuspended: the task now waits (or the attempt is over); exit.
	ErrSuspended = errors.New("the task must wait: the attempt is suspended")
	// ErrTimeout: a Wait's timeout passed before its signal came.
	ErrTimeout = errors.New("timed out waiting for the signal")
	// ErrNoSupervisor: BATON_STEP_URL or BATON_STEP_TOKEN is not set (the
	// program does not run under `baton worker run`).
	ErrNoSupervisor = errors.New("no step endpoint: BATON_STEP_URL and BATON_STEP_TOKEN are not set (run under `baton worker run`)")
	// ErrBadToken: the endpoint refused BATON_STEP_TOKEN.
	ErrBadToken = errors.New("the step endpoint refused BATON_STEP_TOKEN")
)

// Exit codes of ExitCode (and of `baton step`).
const (
	ExitOK        = 0
	ExitError     = 1
	ExitUsage     = 2
	ExitBadToken  = 4
	ExitTimeout   = 7  // as `baton tasks wait`'s timeout
	ExitSuspended = 75 // EX_TEMPFAIL: the task waits; not a failure
	ExitPermanent = 78 // the worker's fatal exit code: the task fails for good
)

// ExitCode is the exit code a program should end with after err.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrSuspended):
		return ExitSuspended
	case errors.Is(err, ErrTimeout):
		return ExitTimeout
	case errors.Is(err, ErrBadToken):
		return ExitBadToken
	case errors.Is(err, ErrNoSupervisor):
		return ExitUsage
	case IsPermanent(err):
		return ExitPermanent
	}
	return ExitError
}

// permanentError marks an error that fails its step for good.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure to record: a step whose function returns
// Permanent(err) is recorded as failed, and every replay returns its error
// without running it. Any other error leaves the step to run again in the
// next attempt (at-least-once). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked by Permanent (or is a
// recorded failure, *StepError).
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// StepError is a step's failure recorded in the journal, returned by a
// replay (wrapped in Permanent).
type StepError struct {
	Key     string
	Message string
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s failed: %s", e.Key, e.Message) }

// Step describes the step whose function runs (StepOf).
type Step struct {
	Key string // the journal's key (KEY, or KEY#n when repeated in the attempt)
	// IdempotencyKey is stable across attempts ("task_…/KEY"): pass it to
	// providers so that a step run twice is charged once.
	IdempotencyKey string
	// PreviousOutcome is "unknown" when an earlier attempt began this step
	// and died before ending it.
	PreviousOutcome string
}

type stepKey struct{}
type clientKey struct{}

// StepOf returns the step running in ctx (zero outside Run's function).
func StepOf(ctx context.Context) Step {
	s, _ := ctx.Value(stepKey{}).(Step)
	return s
}

// WithClient makes the package's functions use c under ctx (tests; several
// endpoints in one process).
func WithClient(ctx context.Context, c *Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

// clientOf is ctx's client, else one from the environment.
func clientOf(ctx context.Context) (*Client, error) {
	if c, ok := ctx.Value(clientKey{}).(*Client); ok && c != nil {
		return c, nil
	}
	return FromEnv()
}

// FromEnv is a client of the endpoint in BATON_STEP_URL with
// BATON_STEP_TOKEN. Errors: ErrNoSupervisor.
func FromEnv() (*Client, error) {
	url, tok := os.Getenv(EnvStepURL), os.Getenv(EnvStepToken)
	if url == "" || tok == "" {
		return nil, ErrNoSupervisor
	}
	return NewClient(url, tok, nil), nil
}

// NewClient is a client of the step endpoint at url with token; hc nil is
// a client without a timeout (a wait answers when the server does).
func NewClient(url, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{url: url, token: token, hc: hc}
}
