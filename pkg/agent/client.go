package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// Client calls one attempt's step endpoint. Its methods are the package's
// functions; they are safe for concurrent use (the supervisor runs one call
// at a time).
type Client struct {
	url, token string
	hc         *http.Client
}

// call sends one request and decodes the answer into out. Errors:
// ErrBadToken; an error with the endpoint's message.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("step call %s: %w", path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, body)
	if err != nil {
		return fmt.Errorf("step call %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("step call %s: %w", path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 2*api.MaxStepOutputBytes))
	if err != nil {
		return fmt.Errorf("step call %s: %w", path, err)
	}
	if res.StatusCode == http.StatusUnauthorized {
		return ErrBadToken
	}
	if res.StatusCode != http.StatusOK {
		var e struct{ Code, Error string }
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = string(bytes.TrimSpace(data))
		}
		return fmt.Errorf("step call %s: %s (%d %s)", path, e.Error, res.StatusCode, e.Code)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("step call %s: answer: %w", path, err)
		}
	}
	return nil
}

// answer turns a begin's suspend or stop into ErrSuspended.
func answer(a Answer) error {
	if a.Action == api.ActionSuspend || a.Action == api.ActionStop {
		return fmt.Errorf("%w (%s)", ErrSuspended, a.Reason)
	}
	return nil
}

// Outcome is a step answer's result: a done answer's output, or its
// recorded error as a permanent *StepError; ErrSuspended for suspend or
// stop. (Wait turns a wait's recorded "timeout" into ErrTimeout.)
func Outcome(a Answer) (json.RawMessage, error) {
	if err := answer(a); err != nil {
		return nil, err
	}
	if a.Action != api.ActionDone {
		return nil, fmt.Errorf("step %s: unexpected action %q", a.Key, a.Action)
	}
	if a.Error != "" {
		return nil, Permanent(&StepError{Key: a.Key, Message: a.Error})
	}
	return a.Output, nil
}

// Call sends one step call of the protocol (PathSleep, PathWait, PathSpawn
// …) with req and returns the endpoint's answer as it is, for callers that
// want more of it than the methods return (`baton step` prints its key).
func (c *Client) Call(ctx context.Context, path string, req any) (Answer, error) {
	var a Answer
	err := c.call(ctx, http.MethodPost, path, req, &a)
	return a, err
}

// Begin begins or replays run step key. See Run.
func (c *Client) Begin(ctx context.Context, req BeginRequest) (Answer, error) {
	return c.Call(ctx, PathBegin, req)
}

// End ends run step key with its output or error and the usage spent in
// it not reported yet. Errors: ErrSuspended when the attempt is over.
func (c *Client) End(ctx context.Context, req EndRequest) error {
	var a Answer
	if err := c.call(ctx, http.MethodPost, PathEnd, req, &a); err != nil {
		return err
	}
	return answer(a)
}

// Sleep sleeps d durably: up to MaxShortSleepSeconds in place, longer as
// a wait of the task. Errors: ErrSuspended (the task sleeps: exit).
func (c *Client) Sleep(ctx context.Context, key string, d time.Duration) error {
	a, err := c.Call(ctx, PathSleep, SleepRequest{Key: key, DurationMS: d.Milliseconds()})
	if err != nil {
		return err
	}
	_, err = Outcome(a)
	return err
}

// Wait waits for signal (timeout 0: no limit) and returns its data.
// Errors: ErrSuspended (the task waits: exit), ErrTimeout.
func (c *Client) Wait(ctx context.Context, key, signal string, timeout time.Duration) (json.RawMessage, error) {
	secs := int64(timeout / time.Second)
	if timeout > 0 && secs == 0 {
		secs = 1
	}
	a, err := c.Call(ctx, PathWait, WaitRequest{Key: key, Signal: signal, TimeoutSeconds: secs})
	if err != nil {
		return nil, err
	}
	return WaitOutcome(a, signal)
}

// WaitOutcome is a wait's answer's result: Outcome, with a recorded
// timeout as ErrTimeout.
func WaitOutcome(a Answer, signal string) (json.RawMessage, error) {
	out, err := Outcome(a)
	if err != nil && a.Action == api.ActionDone && a.Error == "timeout" {
		return nil, fmt.Errorf("wait %s for signal %s: %w", a.Key, signal, ErrTimeout)
	}
	return out, err
}

// Spawn creates a child task with input (marshalled to JSON) in queue (""
// is the default queue). Without wait it returns {"task_id": …} at once;
// with wait the task waits for the child (ErrSuspended) and a later attempt
// gets the child's output (or a permanent *StepError naming its state).
func (c *Client) Spawn(ctx context.Context, key, queue string, input any, wait bool) (json.RawMessage, error) {
	in, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: input: %w", key, err)
	}
	a, err := c.Call(ctx, PathSpawn, SpawnRequest{Key: key, Queue: queue, Input: in, Wait: wait})
	if err != nil {
		return nil, err
	}
	return Outcome(a)
}

// Emit sends lines to the task's events as stream events on channel (""
// for none), e.g. an LLM's tokens as they come; they count toward the
// task's log budget.
func (c *Client) Emit(ctx context.Context, channel string, lines ...string) error {
	return c.call(ctx, http.MethodPost, PathEmit, EmitRequest{Channel: channel, Lines: lines}, nil)
}

// Usage reports usage the program spent (LLM tokens, API money): it is
// charged to the step that is open.
func (c *Client) Usage(ctx context.Context, tokens int64, cost api.Micros) error {
	return c.call(ctx, http.MethodPost, PathUsage, api.UsageReport{Tokens: tokens, CostMicros: int64(cost)}, nil)
}

// Info describes the attempt.
func (c *Client) Info(ctx context.Context) (AttemptInfo, error) {
	var i AttemptInfo
	err := c.call(ctx, http.MethodGet, PathInfo, nil, &i)
	return i, err
}

// errNotRun is what a step returns when its begin neither ran it nor
// replayed it.
var errNotRun = errors.New("step did not run")
