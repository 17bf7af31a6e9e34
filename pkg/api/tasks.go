package api

import (
	"encoding/json"
	"time"
)

// Task states. Terminal states never change again.
const (
	TaskQueued     = "queued"
	TaskRunning    = "running"
	TaskSucceeded  = "succeeded"
	TaskFailed     = "failed"
	TaskCancelled  = "cancelled"
	TaskTimedOut   = "timed_out"
	TaskTerminated = "terminated"
)

// TaskStatuses lists every task state.
var TaskStatuses = []string{TaskQueued, TaskRunning, TaskWaiting, TaskSucceeded, TaskFailed, TaskCancelled, TaskTimedOut, TaskTerminated}

// IsTerminal reports whether a task in status s can never change again.
func IsTerminal(s string) bool {
	switch s {
	case TaskSucceeded, TaskFailed, TaskCancelled, TaskTimedOut, TaskTerminated:
		return true
	}
	return false
}

// Limits on submitted tasks.
const (
	MaxTaskInputBytes = 256 << 10
	DefaultQueue      = "default"
	DefaultAttempts   = 3
)

// Task is one unit of agent work.
type Task struct {
	ID          string            `json:"id"`
	WorkspaceID string            `json:"workspace_id"`
	Queue       string            `json:"queue"`
	Status      string            `json:"status"`
	Priority    int               `json:"priority"`
	Input       json.RawMessage   `json:"input"`
	Output      json.RawMessage   `json:"output"`
	Error       string            `json:"error"`
	Labels      map[string]string `json:"labels"`
	Attempt     int               `json:"attempt"`
	MaxAttempts int               `json:"max_attempts"`
	// MaxCostMicros is the task's budget (0: none); ParentID the task that
	// spawned it.
	MaxCostMicros  int64      `json:"max_cost_micros,omitempty"`
	ParentID       string     `json:"parent_id,omitempty"`
	TimeoutSeconds int64      `json:"timeout_seconds"`
	CreatedAt      time.Time  `json:"created_at"`
	StartedAt      *time.Time `json:"started_at"`
	FinishedAt     *time.Time `json:"finished_at"`
	// StatusReason says why a task is in its state: "held: monthly quota used
	// up", "retrying after: exit status 1", "quota_exceeded" …
	StatusReason   string     `json:"status_reason"`
	RunAt          time.Time  `json:"run_at"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
	Usage          TaskUsage  `json:"usage"`
	// LogBytes is the bytes of log lines stored for the task (over all its
	// attempts) and LogsDropped the lines dropped past its workspace's
	// max_log_bytes_per_task.
	LogBytes    int64 `json:"log_bytes,omitempty"`
	LogsDropped int64 `json:"logs_dropped,omitempty"`
	// Attempts is set by GET /v1/tasks/{id} only.
	Attempts []Attempt `json:"attempts,omitempty"`
}

// TaskUsage is what a task consumed over all its attempts.
type TaskUsage struct {
	ExecutionMS int64 `json:"execution_ms"`
	Tokens      int64 `json:"tokens"`
	CostMicros  int64 `json:"cost_micros"`
}

// Attempt is one lease of a task by a worker.
type Attempt struct {
	Number     int        `json:"number"`
	WorkerID   string     `json:"worker_id"`
	Status     string     `json:"status"` // running, succeeded, failed, expired, cancelled, timed_out, terminated
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Usage      TaskUsage  `json:"usage"`
}

// SubmitTaskRequest is the body of POST /v1/tasks.
type SubmitTaskRequest struct {
	Queue          string            `json:"queue,omitempty"`
	Input          json.RawMessage   `json:"input,omitempty"`
	Priority       int               `json:"priority,omitempty"`
	TimeoutSeconds int64             `json:"timeout_seconds,omitempty"`
	MaxAttempts    int               `json:"max_attempts,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	// MaxCostMicros is the task's budget, its children included (0: none;
	// at most MaxTaskCostMicros). A step begins only while the task's
	// spend is under it; at the limit the task waits (reason budget).
	MaxCostMicros int64 `json:"max_cost_micros,omitempty"`
}

// MaxTaskCostMicros bounds a task's budget: $1,000,000.
const MaxTaskCostMicros = 1_000_000 * 1_000_000

// ClaimRequest is the body of POST /v1/tasks/claim (long poll).
type ClaimRequest struct {
	Queues      []string `json:"queues"`
	WorkerID    string   `json:"worker_id"`
	WaitSeconds int      `json:"wait_seconds,omitempty"`
	MaxTasks    int      `json:"max_tasks,omitempty"`
	// Host and Concurrency describe the worker in GET /v1/workers (its
	// host name; its slots, busy or free). Optional.
	Host        string `json:"host,omitempty"`
	Concurrency int    `json:"concurrency,omitempty"`
}

// ClaimResponse carries the leased tasks (possibly none after the wait).
type ClaimResponse struct {
	Tasks []Task `json:"tasks"`
	// HeartbeatIntervalSeconds is how often the worker must heartbeat,
	// rounded up to whole seconds; HeartbeatIntervalMS is the same in
	// milliseconds (precise for sub-second settings; prefer it when > 0).
	HeartbeatIntervalSeconds int   `json:"heartbeat_interval_seconds"`
	HeartbeatIntervalMS      int64 `json:"heartbeat_interval_ms"`
}

// UsageReport is agent-side usage of one attempt, as running totals for the
// attempt (not deltas), so a replayed report never counts twice.
type UsageReport struct {
	Tokens     int64 `json:"tokens"`
	CostMicros int64 `json:"cost_micros"`
}

// HeartbeatRequest is the body of POST /v1/tasks/{id}/heartbeat.
type HeartbeatRequest struct {
	Attempt int          `json:"attempt"`
	Usage   *UsageReport `json:"usage,omitempty"`
}

// HeartbeatResponse tells the worker whether to go on: with Cancel false
// the lease now ends at LeaseExpiresAt; with Cancel true the attempt is
// over, Reason says why (cancelled, timed_out, quota_exceeded) and there
// is no lease.
type HeartbeatResponse struct {
	Cancel         bool       `json:"cancel"`
	Reason         string     `json:"reason,omitempty"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
}

// LogsRequest is the body of POST /v1/tasks/{id}/logs.
type LogsRequest struct {
	Attempt int      `json:"attempt"`
	Lines   []string `json:"lines"`
	// Stream, when true, stores the lines as stream events (a token
	// stream: `baton step emit`) instead of log lines; both count toward
	// the task's log budget.
	Stream bool `json:"stream,omitempty"`
	// Channel is the stream's channel (empty: none): at most
	// MaxChannelBytes, without spaces or control characters; it needs
	// Stream.
	Channel string `json:"channel,omitempty"`
}

// MaxChannelBytes bounds a stream's channel name.
const MaxChannelBytes = 64

// CompleteRequest is the body of POST /v1/tasks/{id}/complete.
type CompleteRequest struct {
	Attempt int `json:"attempt"`
	// Output is the task's result, any JSON value; absent is null.
	Output json.RawMessage `json:"output,omitempty"`
	Usage  *UsageReport    `json:"usage,omitempty"`
}

// FailRequest is the body of POST /v1/tasks/{id}/fail.
type FailRequest struct {
	Attempt int `json:"attempt"`
	// Error says why the attempt failed; absent is "".
	Error string `json:"error,omitempty"`
	// Retryable asks for another attempt (if any is left); absent is false.
	Retryable bool         `json:"retryable,omitempty"`
	Usage     *UsageReport `json:"usage,omitempty"`
}

// Task event types.
const (
	EventState = "state"
	EventLog   = "log"
	// EventStep is a step of the journal begun, replayed or ended (durable
	// steps): Message says which and how.
	EventStep = "step"
	// EventStream is a line of a token stream (`baton step emit
	// [CHANNEL]`): Message is the line, Channel its channel ("" for none).
	EventStream = "stream"
)

// TaskEvent is a state change, a log line, a step or a stream line of a
// task. Seq orders a task's events and is the SSE event id (Last-Event-ID
// resumes after it).
type TaskEvent struct {
	Seq    int64  `json:"seq"`
	Type   string `json:"type"`
	Status string `json:"status,omitempty"`
	// Channel is a stream event's channel (empty for none and for the
	// other types).
	Channel string    `json:"channel,omitempty"`
	Attempt int       `json:"attempt"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}
