package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// Option changes a step of Run.
type Option func(*BeginRequest)

// AtMostOnce makes a step that was in flight when its attempt died park the
// task for an operator instead of running again.
func AtMostOnce() Option { return func(r *BeginRequest) { r.AtMostOnce = true } }

// InputHash records h with the step: a replay with another h is refused
// (the program is not deterministic).
func InputHash(h string) Option { return func(r *BeginRequest) { r.InputHash = h } }

// Run runs fn as step key, once: a step recorded in the journal returns
// its recorded value (decoded into T) without running fn. fn's ctx carries
// the step (StepOf). A nil error records fn's value (marshalled to JSON);
// an error marked Permanent records the failure, which every replay returns;
// any other error records nothing and the step runs again in a later
// attempt.
//
// Errors: ErrSuspended (the task waits, e.g. for budget: exit), fn's
// error, *StepError (a recorded failure, permanent), ErrNoSupervisor,
// ErrBadToken, endpoint errors.
func Run[T any](ctx context.Context, key string, fn func(ctx context.Context) (T, error), opts ...Option) (T, error) {
	var zero T
	c, err := clientOf(ctx)
	if err != nil {
		return zero, err
	}
	req := BeginRequest{Key: key}
	for _, o := range opts {
		o(&req)
	}
	a, err := c.Begin(ctx, req)
	if err != nil {
		return zero, err
	}
	switch a.Action {
	case api.ActionRun:
	case api.ActionDone:
		out, err := Outcome(a)
		if err != nil {
			return zero, err
		}
		var v T
		if len(out) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				return zero, fmt.Errorf("step %s: recorded output: %w", a.Key, err)
			}
		}
		return v, nil
	default:
		if err := answer(a); err != nil {
			return zero, err
		}
		return zero, fmt.Errorf("step %s: %w: action %q", key, errNotRun, a.Action)
	}
	sctx := context.WithValue(ctx, stepKey{}, Step{Key: a.Key, IdempotencyKey: a.IdempotencyKey, PreviousOutcome: a.PreviousOutcome})
	v, ferr := fn(sctx)
	if ferr != nil {
		if IsPermanent(ferr) {
			if err := c.End(ctx, EndRequest{Key: a.Key, Error: ferr.Error()}); err != nil {
				return zero, err
			}
		}
		return zero, ferr
	}
	out, err := json.Marshal(v)
	if err != nil {
		return zero, fmt.Errorf("step %s: output: %w", a.Key, err)
	}
	if err := c.End(ctx, EndRequest{Key: a.Key, Output: out}); err != nil {
		return v, err
	}
	return v, nil
}

// Sleep sleeps d durably (Client.Sleep).
func Sleep(ctx context.Context, key string, d time.Duration) error {
	c, err := clientOf(ctx)
	if err != nil {
		return err
	}
	return c.Sleep(ctx, key, d)
}

// Wait waits for signal at most timeout (0: no limit) and returns its data
// (Client.Wait).
func Wait(ctx context.Context, key, signal string, timeout time.Duration) (json.RawMessage, error) {
	c, err := clientOf(ctx)
	if err != nil {
		return nil, err
	}
	return c.Wait(ctx, key, signal, timeout)
}

// Spawn creates a child task (Client.Spawn).
func Spawn(ctx context.Context, key, queue string, input any, wait bool) (json.RawMessage, error) {
	c, err := clientOf(ctx)
	if err != nil {
		return nil, err
	}
	return c.Spawn(ctx, key, queue, input, wait)
}

// Emit sends lines to the task's events (Client.Emit).
func Emit(ctx context.Context, channel string, lines ...string) error {
	c, err := clientOf(ctx)
	if err != nil {
		return err
	}
	return c.Emit(ctx, channel, lines...)
}

// Usage reports usage, charged to the open step (Client.Usage).
func Usage(ctx context.Context, tokens int64, cost api.Micros) error {
	c, err := clientOf(ctx)
	if err != nil {
		return err
	}
	return c.Usage(ctx, tokens, cost)
}

// Info describes the attempt (Client.Info).
func Info(ctx context.Context) (AttemptInfo, error) {
	c, err := clientOf(ctx)
	if err != nil {
		return AttemptInfo{}, err
	}
	return c.Info(ctx)
}
