package client

import (
	"context"
	"errors"
	"net/http"

	"github.com/genericcorp/baton/pkg/api"
)

// Durable steps (docs/steps.md): the worker's step calls and the user's
// journal, signals, budget updates and retries.

// stepPath is the path of step key of task id, both escaped (keys may hold
// #, / and spaces).
func stepPath(id, key, suffix string) (string, error) {
	p, err := pathID(id)
	if err != nil {
		return "", err
	}
	if key == "" {
		return "", errors.New("empty step key")
	}
	return "/v1/tasks/" + p + "/steps/" + pathSegment(key) + suffix, nil
}

// stepCall POSTs a step route with the task's workspace in Baton-Workspace.
// It is not retried once sent: a begin that reached the server counts (a
// second one is KEY#2), and an end that did answers 409 when repeated.
func (c *Client) stepCall(ctx context.Context, workspaceID, id, key, suffix string, body, out any, what string) error {
	p, err := stepPath(id, key, suffix)
	if err != nil {
		return wrap(err, what, key, id)
	}
	var opts []RequestOption
	if workspaceID != "" {
		opts = append(opts, WithHeader(api.HeaderWorkspace, workspaceID))
	}
	return wrap(c.Do(ctx, http.MethodPost, p, nil, body, out, opts...), what, key, id)
}

// BeginStep begins or replays step key of the attempt req.Attempt (scope
// worker). The answer's Action says what to do: run it (then EndStep with
// the answer's Key), done (the journal's Output or Error), suspend (the
// task now waits: stop the program) or stop. workspaceID as in Heartbeat.
//
// Errors: *APIError (conflict for a stale attempt or a journal that
// disagrees, validation_failed, not_found …); wrapped network errors.
func (c *Client) BeginStep(ctx context.Context, workspaceID, id, key string, req api.StepBeginRequest) (api.StepBeginResponse, error) {
	var r api.StepBeginResponse
	err := c.stepCall(ctx, workspaceID, id, key, "/begin", req, &r, "begin step %q of task %s")
	return r, err
}

// EndStep ends running step key (the journal key BeginStep answered) of
// attempt req.Attempt with its output or error and the attempt's usage
// totals (scope worker).
//
// Errors: *APIError (conflict for a stale attempt or a step not running,
// not_found for no such step, payload_too_large …); wrapped network errors.
func (c *Client) EndStep(ctx context.Context, workspaceID, id, key string, req api.StepEndRequest) (api.StepEndResponse, error) {
	var r api.StepEndResponse
	err := c.stepCall(ctx, workspaceID, id, key, "/end", req, &r, "end step %q of task %s")
	return r, err
}

// ListSteps returns task id's journal (scope tasks:read).
//
// Errors: *APIError (not_found …); wrapped network errors; an error for an
// empty id.
func (c *Client) ListSteps(ctx context.Context, id string, opts ...RequestOption) ([]api.Step, error) {
	var out api.StepList
	p, err := pathID(id)
	if err == nil {
		err = c.Do(ctx, http.MethodGet, "/v1/tasks/"+p+"/steps", nil, nil, &out, opts...)
	}
	return out.Data, wrap(err, "list steps of task %s", id)
}

// Signal sends signal name with data (nil: null) to task id (scope
// tasks:write): a task waiting for it wakes; one sent before the wait is
// kept for it. With an idempotencyKey the call is retried and a repeat
// delivers nothing more (the first signal is answered).
//
// Errors: *APIError (conflict when the task has ended, not_found …);
// wrapped network errors.
func (c *Client) Signal(ctx context.Context, id, name string, data []byte, idempotencyKey string, opts ...RequestOption) (api.Signal, error) {
	var out api.Signal
	p, err := pathID(id)
	if err == nil && name == "" {
		err = errors.New("empty signal name")
	}
	if err == nil {
		if idempotencyKey != "" {
			opts = append([]RequestOption{WithIdempotencyKey(idempotencyKey)}, opts...)
		}
		err = c.Do(ctx, http.MethodPost, "/v1/tasks/"+p+"/signals/"+pathSegment(name), nil, api.SignalRequest{Data: data}, &out, opts...)
	}
	return out, wrap(err, "signal %s to task %s", name, id)
}

// UpdateTask raises task id's budget (a task waiting for budget resumes)
// or changes its priority (scope tasks:write).
//
// Errors: *APIError (validation_failed, conflict when the task has ended,
// not_found …); wrapped network errors.
func (c *Client) UpdateTask(ctx context.Context, id string, req api.UpdateTaskRequest, opts ...RequestOption) (api.Task, error) {
	return c.taskCall(ctx, http.MethodPatch, id, "", req, "update task %s", append(opts, markRetryable()))
}

// RetryTask runs a finished (or operator-waiting) task again keeping its
// journal; from req.FromStep on, steps run again (scope tasks:write).
//
// Errors: *APIError (conflict when the task is not finished, not_found for
// the task or the step …); wrapped network errors.
func (c *Client) RetryTask(ctx context.Context, id string, req api.RetryTaskRequest, opts ...RequestOption) (api.Task, error) {
	return c.taskCall(ctx, http.MethodPost, id, "/retry", req, "retry task %s", opts)
}
