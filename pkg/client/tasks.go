package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// TaskListOptions filters and pages GET /v1/tasks. Label is "key=value".
// Empty fields are not sent.
type TaskListOptions struct {
	Status string
	Queue  string
	Label  string
	// Labels are more "key=value" filters, sent as repeated label
	// parameters after Label (a task must carry every one).
	Labels []string
	ListOptions
}

func (o TaskListOptions) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"status": o.Status, "queue": o.Queue, "label": o.Label} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, l := range o.Labels {
		q.Add("label", l)
	}
	return q
}

// SubmitTask submits a task (scope tasks:write). With an idempotencyKey
// (sent as Idempotency-Key) the request is retried on 429/502/503/504 and a
// replay returns the task the key first made (200 instead of 201); without
// one it is retried only when it never left.
//
// Errors: *APIError (validation_failed, payload_too_large, conflict when the
// key was used with other parameters, quota_exceeded, …); wrapped network
// errors.
func (c *Client) SubmitTask(ctx context.Context, req api.SubmitTaskRequest, idempotencyKey string, opts ...RequestOption) (api.Task, error) {
	var t api.Task
	if idempotencyKey != "" {
		opts = append([]RequestOption{WithIdempotencyKey(idempotencyKey)}, opts...)
	}
	err := c.Do(ctx, http.MethodPost, "/v1/tasks", nil, req, &t, opts...)
	return t, wrap(err, "submit task")
}

// ListTasks returns one page of the workspace's tasks (scope tasks:read),
// filtered by status, queue and label.
//
// Errors: *APIError (invalid_request for an unknown status or a bad label,
// …); wrapped network errors.
func (c *Client) ListTasks(ctx context.Context, lo TaskListOptions, opts ...RequestOption) (api.List[api.Task], error) {
	l, err := listPage[api.Task](ctx, c, "/v1/tasks", lo.query(), lo.ListOptions, opts...)
	return l, wrap(err, "list tasks")
}

// AllTasks iterates over every task that matches lo's filters, fetching
// pages of lo.Limit items (0: the server's default) as the loop goes;
// lo.Cursor is ignored. An error is yielded once, with a zero Task, and ends
// the iteration.
func (c *Client) AllTasks(ctx context.Context, lo TaskListOptions, opts ...RequestOption) iter.Seq2[api.Task, error] {
	return listAll[api.Task](ctx, c, "tasks", "/v1/tasks", lo.query(), lo.Limit, opts...)
}

// GetTask reads one task with its attempts (scope tasks:read).
//
// Errors: *APIError (not_found, …); wrapped network errors; an error for an
// empty id.
func (c *Client) GetTask(ctx context.Context, id string, opts ...RequestOption) (api.Task, error) {
	return c.taskCall(ctx, http.MethodGet, id, "", nil, "get task %s", opts)
}

// CancelTask cancels a queued or running task (scope tasks:write) and
// returns it. Cancelling is idempotent, so the request is retried.
//
// Errors: *APIError (not_found, conflict when the task already ended, …);
// wrapped network errors; an error for an empty id.
func (c *Client) CancelTask(ctx context.Context, id string, opts ...RequestOption) (api.Task, error) {
	return c.taskCall(ctx, http.MethodPost, id, "/cancel", nil, "cancel task %s", append(opts, markRetryable()))
}

// ListTaskEvents returns the task's state changes and log lines with a Seq
// above afterSeq (0: from the start), in order (scope tasks:read). It
// follows the server's pages to the end; pass the last Seq to poll for more.
//
// Errors: *APIError (not_found, …); wrapped network errors; an error for an
// empty id or a server whose pages do not advance.
func (c *Client) ListTaskEvents(ctx context.Context, id string, afterSeq int64, opts ...RequestOption) ([]api.TaskEvent, error) {
	p, err := pathID(id)
	if err != nil {
		return nil, wrap(err, "list events of task %s", id)
	}
	out := []api.TaskEvent{}
	for {
		var page api.List[api.TaskEvent]
		q := url.Values{"after": {strconv.FormatInt(afterSeq, 10)}}
		if err := c.Do(ctx, http.MethodGet, "/v1/tasks/"+p+"/events", q, nil, &page, opts...); err != nil {
			return out, wrap(err, "list events of task %s", id)
		}
		out = append(out, page.Data...)
		if page.NextCursor == nil || len(page.Data) == 0 {
			return out, nil
		}
		last := page.Data[len(page.Data)-1].Seq
		if last <= afterSeq {
			return out, fmt.Errorf("list events of task %s: server returned no newer events after %d", id, afterSeq)
		}
		afterSeq = last
	}
}

// ClaimTasks long-polls for up to req.MaxTasks tasks of req.Queues (scope
// worker): the server answers as soon as it has leased tasks, or with none
// after req.WaitSeconds; ctx bounds the wait (and WithRequestTimeout's
// bound is WaitSeconds longer for it). It is retried: a claim whose
// answer was lost leaves at most a lease that expires and is requeued.
//
// Errors: *APIError (validation_failed, forbidden, …); wrapped network errors.
func (c *Client) ClaimTasks(ctx context.Context, req api.ClaimRequest) (api.ClaimResponse, error) {
	var r api.ClaimResponse
	err := c.Do(ctx, http.MethodPost, "/v1/tasks/claim", nil, req, &r, markRetryable(),
		longPoll(time.Duration(req.WaitSeconds)*time.Second))
	return r, wrap(err, "claim tasks")
}

// Heartbeat extends the lease of an attempt and reports its usage totals
// (scope worker). The answer's Cancel says the attempt must stop.
// workspaceID, the task's workspace, is sent as Baton-Workspace (needed by a
// shared worker with an operator key; "" sends the client's default). The
// call is idempotent under fencing and retried.
//
// Errors: *APIError (conflict when the attempt no longer holds the task,
// not_found, …); wrapped network errors; an error for an empty id.
func (c *Client) Heartbeat(ctx context.Context, workspaceID, id string, req api.HeartbeatRequest) (api.HeartbeatResponse, error) {
	var r api.HeartbeatResponse
	err := c.workerCall(ctx, workspaceID, id, "/heartbeat", req, &r, "heartbeat task %s")
	return r, err
}

// AppendLogs appends log lines of an attempt (scope worker). Like Heartbeat
// it names the task's workspace and is retried.
//
// Errors: *APIError (conflict for a stale attempt, validation_failed for
// too many lines, …); wrapped network errors; an error for an empty id.
func (c *Client) AppendLogs(ctx context.Context, workspaceID, id string, req api.LogsRequest) error {
	return c.workerCall(ctx, workspaceID, id, "/logs", req, nil, "append logs of task %s")
}

// CompleteTask ends an attempt with its output and final usage (scope
// worker) and returns the task. Like Heartbeat it names the task's
// workspace and is retried: a repeated completion of the same attempt
// changes nothing.
//
// Errors: *APIError (conflict when the attempt was fenced off, …); wrapped
// network errors; an error for an empty id.
func (c *Client) CompleteTask(ctx context.Context, workspaceID, id string, req api.CompleteRequest) (api.Task, error) {
	var t api.Task
	err := c.workerCall(ctx, workspaceID, id, "/complete", req, &t, "complete task %s")
	return t, err
}

// FailTask ends an attempt as failed (scope worker) and returns the task:
// requeued for another attempt when req.Retryable and attempts remain,
// failed otherwise. Like CompleteTask it names the workspace and is retried.
//
// Errors: *APIError (conflict when the attempt was fenced off, …); wrapped
// network errors; an error for an empty id.
func (c *Client) FailTask(ctx context.Context, workspaceID, id string, req api.FailRequest) (api.Task, error) {
	var t api.Task
	err := c.workerCall(ctx, workspaceID, id, "/fail", req, &t, "fail task %s")
	return t, err
}

// taskCall sends method to /v1/tasks/{id}{suffix} and decodes a Task.
func (c *Client) taskCall(ctx context.Context, method, id, suffix string, body any, what string, opts []RequestOption) (api.Task, error) {
	var t api.Task
	p, err := pathID(id)
	if err == nil {
		err = c.Do(ctx, method, "/v1/tasks/"+p+suffix, nil, body, &t, opts...)
	}
	return t, wrap(err, what, id)
}

// workerCall POSTs a worker route of a task: retryable, with the task's
// workspace in Baton-Workspace. (The worker methods take no RequestOptions,
// so that *Client satisfies the supervisor's interface.)
func (c *Client) workerCall(ctx context.Context, workspaceID, id, suffix string, body, out any, what string) error {
	p, err := pathID(id)
	if err != nil {
		return wrap(err, what, id)
	}
	opts := []RequestOption{markRetryable()}
	if workspaceID != "" {
		opts = append(opts, WithHeader(api.HeaderWorkspace, workspaceID))
	}
	return wrap(c.Do(ctx, http.MethodPost, "/v1/tasks/"+p+suffix, nil, body, out, opts...), what, id)
}
