package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrStale is returned by heartbeat, logs and completion calls whose attempt
// is not the task's current running attempt: the fencing token lost.
var ErrStale = errors.New("stale attempt")

// Admit decides whether a workspace may queue one more task, given how
// many it has queued and what it has used of its monthly quotas in the
// period of the task's creation; a non-nil error refuses the task.
type Admit func(queued int, used Consumed) error

// Created is the outcome of one create of CreateTasks: as CreateTask's
// results.
type Created struct {
	Task    Task
	Created bool
	Err     error
}

// AnyWorkspace is not a workspace id: ClaimTasks with it serves every
// workspace (a shared worker with an operator key).
const AnyWorkspace = "*"

// AttemptExpired is the status of an attempt whose lease ran out (the other
// attempt statuses are api.Task* states).
const AttemptExpired = "expired"

// Task is a task as stored. Status is one of the api.Task* states.
type Task struct {
	ID             string
	WorkspaceID    string
	Queue          string
	Status         string
	Priority       int
	Input          json.RawMessage
	Output         json.RawMessage // nil until succeeded
	Error          string
	Labels         map[string]string
	Attempt        int // current or last attempt number; 0 before the first claim
	MaxAttempts    int
	TimeoutSeconds int64 // the task's own timeout; 0 = the tier's max duration
	IdempotencyKey string
	RequestHash    []byte // hash of the submit parameters
	StatusReason   string
	RunAt          time.Time // not claimable before (retry backoff)
	LeaseExpiresAt *time.Time
	WorkerID       string
	CreatedAt      time.Time
	StartedAt      *time.Time // start of the first attempt
	FinishedAt     *time.Time
	AttemptStarted *time.Time // start of the current attempt
	// Usage sums the attempts' usage.
	ExecutionMS int64
	Tokens      int64
	CostMicros  int64
	// MaxCostMicros is the task's budget, its children included (0: none).
	MaxCostMicros int64
	// ParentID is the task that spawned this one ("" for none).
	ParentID string
	// SuspendedAttempts counts the attempts that ended suspended (the task
	// went waiting): max_attempts does not count them.
	SuspendedAttempts int
	// WakeAt is when a waiting task's timer fires (nil: no timer).
	WakeAt *time.Time
	// LogBytes is the bytes of log lines stored over all attempts;
	// LogsDropped the lines dropped past the log budget.
	LogBytes    int64
	LogsDropped int64
}

// Pruned counts what PruneEvents deleted.
type Pruned struct {
	TaskEvents, UsageEvents int64
}

// LogResult says what AppendLogs did with the lines it was given.
type LogResult struct {
	Stored, Dropped int
}

// AttemptSuspended is the status of an attempt that ended because its task
// went waiting (a sleep, wait, spawn, budget or operator).
const AttemptSuspended = "suspended"

// Attempt is one lease of a task.
type Attempt struct {
	TaskID      string
	Number      int
	WorkerID    string
	Status      string // running, succeeded, failed, AttemptExpired, cancelled, timed_out, terminated
	Error       string // why it failed or ended
	StartedAt   time.Time
	FinishedAt  *time.Time
	HeartbeatAt time.Time // last accrual point
	ExecutionMS int64
	Tokens      int64
	CostMicros  int64
}

// TaskEvent is a state change or log line; Seq increases per task.
type TaskEvent struct {
	TaskID      string
	WorkspaceID string
	Seq         int64
	Type        string // api.EventState, api.EventLog, api.EventStep or api.EventStream
	Status      string // state events: the new status; "" for the others
	Channel     string // stream events: the stream's channel ("" for none)
	Attempt     int    // the task's attempt then (0 before the first claim)
	Message     string // the reason or error of a state change, or the log line
	At          time.Time
}

// TaskFilter selects tasks in ListTasks; empty fields match everything.
type TaskFilter struct {
	Status string
	Queue  string
	// Labels are key=value pairs a task must all carry (AND).
	Labels []Label
}

// Label is one key=value of a filter.
type Label struct{ Key, Value string }

// ClaimParams describes one claim.
type ClaimParams struct {
	WorkspaceID string   // a workspace, or AnyWorkspace
	Queues      []string // at least one
	WorkerID    string
	// Workers, when set, names the worker of each task claimed: the i-th
	// task claimed goes to Workers[i] (a claim made for several workers at
	// once); WorkerID is then unused.
	Workers []string
	Now     time.Time
	Lease   time.Duration
	// Max is how many tasks the claim takes at most (below 1: one).
	Max int
	// Slots says how many more tasks a workspace may start now, given how
	// many it has running and what it has used of its monthly quotas in
	// the billing period holding Now (concurrency cap, quota, suspension):
	// 0 or less starts none; nil means no limit. It is asked inside the
	// claim's transaction with the workspace locked, so its answer holds.
	// A store may also call it beforehand, without the lock, as a cheap
	// pre-check that skips the workspace on 0, so it must depend only on
	// its arguments.
	Slots func(ws Workspace, running int, used Consumed) int
}

// Worker is the worker of the i-th task the claim takes.
func (p ClaimParams) Worker(i int) string {
	if i < len(p.Workers) {
		return p.Workers[i]
	}
	return p.WorkerID
}

// From is p for the tasks claimed after the first n: Worker(0) is the
// worker of task n.
func (p ClaimParams) From(n int) ClaimParams {
	if len(p.Workers) > 0 {
		p.Workers = p.Workers[min(n, len(p.Workers)):]
	}
	return p
}

// Consumed is a workspace's use of its monthly quotas in one billing
// period, read from the monthly rollup.
type Consumed struct {
	Executions  int64 // MetricTaskExecutions
	ExecutionMS int64 // MetricExecutionMS
	CostMicros  int64 // MetricCostMicros
}

// QueueStat counts the tasks of one queue in one status, across every
// workspace (operator data: the server exports it as metrics, never to a
// tenant).
type QueueStat struct {
	Queue  string
	Status string
	Count  int64
	// OldestCreatedAt, for status queued only (zero for the others), is
	// the CreatedAt of the oldest queued task: how long the queue's head
	// has waited (held tasks and tasks waiting for a retry included).
	OldestCreatedAt time.Time
}

// Usage is an attempt's agent-reported usage as running totals (never
// lowered: a smaller total than one already recorded changes nothing).
type Usage struct {
	Tokens     int64
	CostMicros int64
}

// Outcome ends an attempt (Complete).
type Outcome struct {
	Status    string          // api.TaskSucceeded, or api.TaskFailed for a failed attempt
	Output    json.RawMessage // for succeeded
	Error     string          // for failed
	Retryable bool            // failed: retry while attempts remain
	RetryAt   time.Time       // failed + retryable: when the task may run again (zero: Now)
	Usage     *Usage
	Now       time.Time
}

// TaskStore is the durable queue. Every transition writes its state event
// (api.EventState, the new status, the attempt, the reason as message) in
// the same transaction. Terminal states never change.
//
// Methods taking a workspace id and a task id treat a task of another
// workspace as absent: ErrNotFound, and nothing changes. The one exception
// is ExpireLeases, the reaper's call, which serves every workspace.
// Times are stored to the microsecond (truncated) and read back in UTC.
// Text written by workers (errors, reasons, log lines) is stored as valid
// UTF-8 without NUL characters: bad bytes become U+FFFD.
type TaskStore interface {
	// CreateTask inserts t as queued, with no attempt, outcome, lease or
	// usage (whatever t says), and its first state event (queued, message
	// t.StatusReason). A zero RunAt means CreatedAt, MaxAttempts below 1
	// means 1, a nil Input is stored as JSON null. Input and Output read
	// back byte for byte. If t.IdempotencyKey is set and the workspace has
	// a task with that key, it returns that task and created=false — or
	// that task and ErrConflict when its RequestHash differs; concurrent
	// creates with one key make one task. ErrNotFound if the workspace
	// does not exist; ErrConflict if the id is taken.
	//
	// With admit set, a new task is asked for under a lock on the
	// workspace — creates of one workspace take turns, so concurrent
	// creates never pass a cap — and admit's error refuses it (returned
	// wrapped, as is). A create whose idempotency key already has a task
	// is answered with it as above without asking admit.
	CreateTask(ctx context.Context, t Task, admit Admit) (got Task, created bool, err error)
	// CreateTasks is CreateTask of several tasks of one workspace, each
	// with its admit (never nil), in one transaction under one lock of the
	// workspace: each is admitted on the counts with the ones before it in
	// the batch counted, so concurrent submits cost one commit. The result
	// of each is its own (a refused or conflicting one does not fail the
	// others); the error is the transaction's, for all of them.
	CreateTasks(ctx context.Context, ts []Task, admits []Admit) ([]Created, error)
	// GetTask returns the task, or ErrNotFound.
	GetTask(ctx context.Context, workspaceID, id string) (Task, error)
	// ChildrenCost returns the summed cost of the tasks that task id of
	// workspaceID spawned (0 when none): with the task's own cost, what
	// its budget (MaxCostMicros) counts.
	ChildrenCost(ctx context.Context, workspaceID, id string) (int64, error)
	// ListTasks returns one page of tasks, newest first: rows with an id
	// lower than p.After (when set), at most p.Limit. A label filter
	// matches tasks that carry every one of its labels (any strings).
	ListTasks(ctx context.Context, workspaceID string, f TaskFilter, p Page) ([]Task, error)
	// ListAttempts returns the task's attempts in order. ErrNotFound if
	// the task is absent.
	ListAttempts(ctx context.Context, workspaceID, taskID string) ([]Attempt, error)
	// CountTasks counts the workspace's tasks in status ("" counts all).
	CountTasks(ctx context.Context, workspaceID, status string) (int, error)

	// CancelTask moves a queued or running task to cancelled (a running
	// one's attempt too, its execution accrued up to now), with reason,
	// clearing the lease. ErrNotFound if absent; ErrConflict (with the
	// task) if it is already terminal.
	CancelTask(ctx context.Context, workspaceID, id, reason string, now time.Time) (Task, error)
	// EndTask moves a running task's current attempt (which must be
	// attempt) and the task to a terminal status: api.TaskTimedOut or
	// api.TaskTerminated, accruing execution up to now. ErrNotFound if
	// absent; ErrStale (with the task) if attempt is not current and
	// running.
	EndTask(ctx context.Context, workspaceID, id string, attempt int, status, reason string, now time.Time) (Task, error)

	// ClaimTasks leases up to p.Max tasks fairly: workspaces with
	// claimable tasks (queued, RunAt <= Now, in Queues) are served round
	// robin (the one served longest ago first), each at most its Slots;
	// within a workspace by priority (high first), then age. Each task
	// becomes running with Attempt+1, a new attempt row, WorkerID, and a
	// lease to Now+Lease. The tasks one workspace gives a claim are taken
	// in one transaction of a fixed number of statements, whatever their
	// number. Concurrent claims never take one task twice and never start
	// more tasks than Slots allows. ErrNotFound when nothing is claimable.
	ClaimTasks(ctx context.Context, p ClaimParams) ([]Task, error)
	// Heartbeat extends the lease of the current running attempt to
	// now+lease, accrues execution time since the last heartbeat (server
	// clock), records usage totals if given (never decreasing), and returns
	// the task. It writes no event. ErrNotFound if the task is absent.
	// ErrStale if attempt is not the current running attempt, and nothing
	// changes; the task is returned with ErrStale, so that the caller can
	// tell the worker why (a task that is terminal with that attempt as
	// its last was cancelled, timed out or terminated).
	Heartbeat(ctx context.Context, workspaceID, id string, attempt int, usage *Usage, now time.Time, lease time.Duration) (Task, error)
	// Complete ends the current running attempt with o: succeeded, or
	// failed → queued again at o.RetryAt when o.Retryable and attempts
	// remain (the status reason then is "retrying: " + o.Error), else the
	// task fails with o.Error. Execution time accrues up to o.Now, and
	// o.Usage is recorded as in Heartbeat. ErrNotFound if absent; ErrStale
	// (with the task) if attempt is not current and running: nothing
	// changes, not even usage.
	Complete(ctx context.Context, workspaceID, id string, attempt int, o Outcome) (Task, error)
	// ExpireLeases handles every running task whose lease ended before now,
	// in every workspace (it is the reaper's call, not a tenant's): the
	// attempt becomes AttemptExpired, accruing nothing past its last
	// heartbeat; the task is queued again at now+backoff(attempt) (nil
	// backoff: now) with reason "lease expired" while attempts remain,
	// else it fails with error "lease expired after N attempts". It
	// returns the tasks changed (also with an error, those changed before it).
	ExpireLeases(ctx context.Context, now time.Time, backoff func(attempt int) time.Duration) ([]Task, error)

	// AppendLogs stores log lines of the current running attempt as log
	// events (one per line, status ""), as long as the task's log bytes
	// stay within maxBytes (< 0: no limit): lines past it are dropped and
	// counted in the task's LogsDropped, and the first drop stores one
	// notice line. ErrNotFound if the task is absent; ErrStale if attempt
	// is not current and running.
	AppendLogs(ctx context.Context, workspaceID, id string, attempt int, lines []string, maxBytes int64, now time.Time) (LogResult, error)
	// AppendStream is AppendLogs for the lines of a token stream on
	// channel (baton step emit): they are stored as api.EventStream
	// events, counted in the same log budget.
	AppendStream(ctx context.Context, workspaceID, id string, attempt int, channel string, lines []string, maxBytes int64, now time.Time) (LogResult, error)
	// PruneEvents deletes at most limit task events and at most limit raw
	// usage events of workspaceID that happened before before (event
	// retention); usage rollups stay. Call it again while it deletes limit.
	PruneEvents(ctx context.Context, workspaceID string, before time.Time, limit int) (Pruned, error)
	// ListEvents returns the task's events with Seq > afterSeq, in order,
	// at most limit (100 if limit <= 0). ErrNotFound if the task is absent.
	ListEvents(ctx context.Context, workspaceID, id string, afterSeq int64, limit int) ([]TaskEvent, error)

	// QueueStats returns one QueueStat per queue and status that has any
	// task, in every workspace, ordered by queue then status: queue depth
	// (status queued, whatever its RunAt), the oldest queued task's age,
	// and the tasks by state. It is cross-tenant by nature, for operators
	// (/metrics) only; one query over an index of (status, queue,
	// created_at).
	QueueStats(ctx context.Context) ([]QueueStat, error)
	// CountAllTasks counts the tasks in status of every workspace that has
	// any, by workspace id: the operator's view (GET /v1/admin/usage), one
	// query instead of one per workspace. Never nil.
	CountAllTasks(ctx context.Context, status string) (map[string]int, error)
}
