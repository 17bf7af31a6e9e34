// Package flow holds the write flows both stores share: what a heartbeat,
// completion, cancellation, lease expiry, idempotent create, key rotation
// or workspace change does inside its transaction, written once against Tx. Each store implements Tx with
// its own SQL, placeholders, locking clauses, scanning and error mapping;
// the transitions themselves are the lifecycle package's.
package flow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/lifecycle"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
	"github.com/genericcorp/baton/pkg/api"
)

// ExpireBatch is how many expired leases one reaper transaction handles.
const ExpireBatch = 100

// Row is a task as stored and the seq of its last event.
type Row struct {
	Task store.Task
	Seq  int64
}

// Tx is one store's row operations inside a write transaction. Its
// methods report store.ErrNotFound and store.ErrConflict (mapped from the
// driver's errors) where their docs say so.
type Tx interface {
	TaskTx
	StepTx
	AdminTx
	usagerows.Tx
}

// TaskRef names a task of a workspace.
type TaskRef struct{ WorkspaceID, ID string }

// AttemptRef names one attempt of a task.
type AttemptRef struct {
	TaskID string
	Number int
}

// TaskTx is the row operations on tasks, attempts and events.
type TaskTx interface {
	// LockTask reads task id of workspaceID and holds it, and its
	// attempts, until the transaction ends. store.ErrNotFound if absent.
	LockTask(ctx context.Context, workspaceID, id string) (Row, error)
	// LockTasks is LockTask of several tasks in one statement, locking
	// them in id order; absent ones are left out of the result. It also
	// reads the current attempt of each running one, read after the locks
	// are held (PostgreSQL: a second statement in the same round trip).
	LockTasks(ctx context.Context, refs []TaskRef) ([]Row, []store.Attempt, error)
	// LockExpired reads up to limit running tasks whose lease ended
	// before now, the oldest lease first, and holds them like LockTask
	// (skipping, where the dialect can, tasks held by others).
	LockExpired(ctx context.Context, now time.Time, limit int) ([]Row, error)
	// SaveTasks writes every mutable column of each r.Task and sets its
	// event seq to r.Seq, in one statement where the dialect can.
	SaveTasks(ctx context.Context, rows []Row) error
	// InsertTask inserts the new task t and its first state event (seq 1:
	// status queued, attempt 0, message t.StatusReason, at t.CreatedAt —
	// PostgreSQL in the same statement) and returns its row; inserted is
	// false (and err nil, no event written) if t's idempotency key is taken
	// in its workspace.
	InsertTask(ctx context.Context, t store.Task) (r Row, inserted bool, err error)
	// TaskByIdempotencyKey returns workspaceID's task with key.
	TaskByIdempotencyKey(ctx context.Context, workspaceID, key string) (store.Task, error)
	// AdmissionCounts reads workspace id's queued count and its use of its
	// monthly quotas in the period holding at.
	AdmissionCounts(ctx context.Context, id string, at time.Time) (queued int, used store.Consumed, err error)
	// LockCounted locks workspace id against other creates until the
	// transaction ends (store.ErrNotFound if it does not exist), then reads
	// AdmissionCounts, which see every create of the lock's previous
	// holders (PostgreSQL: one
	// round trip).
	LockCounted(ctx context.Context, id string, at time.Time) (queued int, used store.Consumed, err error)
	// InsertCounted locks workspace t.WorkspaceID as LockCounted does
	// and then is InsertTask that also returns, read after the lock
	// (PostgreSQL: in the insert's statement, sent with the lock's in one
	// round trip), the workspace's queued count without the new task and
	// its use of its monthly quotas in the period holding t.CreatedAt —
	// what admission decides on. An insert that admission then refuses is
	// rolled back with the transaction.
	InsertCounted(ctx context.Context, t store.Task) (r Row, inserted bool, queued int, used store.Consumed, err error)

	// Attempts reads the attempts refs name, in one statement where the
	// dialect can; absent ones are left out.
	Attempts(ctx context.Context, refs []AttemptRef) ([]store.Attempt, error)
	// InsertAttempts inserts attempts of tasks of workspaceID, in one
	// statement where the dialect can.
	InsertAttempts(ctx context.Context, workspaceID string, attempts []store.Attempt) error
	// SaveAttempts writes every mutable column of each attempt, in one
	// statement where the dialect can.
	SaveAttempts(ctx context.Context, attempts []store.Attempt) error

	// InsertEvents inserts events, in one statement where the dialect can.
	InsertEvents(ctx context.Context, events []store.TaskEvent) error
	// Write applies w (see Writes): in one statement where the dialect
	// can, else as WriteEach.
	Write(ctx context.Context, w Writes) error
	// AppendLogs sets the event seq of r's task to r.Seq+len(lines), adds
	// addBytes to its log bytes and addDropped to its dropped lines, and
	// inserts one event of kind k and attempt per line, at at, with seqs
	// from r.Seq+1. lines may be empty.
	AppendLogs(ctx context.Context, r Row, k LineKind, attempt int, lines []string, addBytes, addDropped int64, at time.Time) error
}

// Runner runs fn in one write transaction of a store and commits it if fn
// returns nil; otherwise it rolls back and returns fn's error as is.
type Runner func(ctx context.Context, fn func(tx Tx) error) error

// stateEvent is the state event of r's transition with message at at.
func stateEvent(r Row, message string, at time.Time) store.TaskEvent {
	return store.TaskEvent{TaskID: r.Task.ID, WorkspaceID: r.Task.WorkspaceID, Seq: r.Seq,
		Type: api.EventState, Status: r.Task.Status, Attempt: r.Task.Attempt, Message: message, At: at}
}

// CommitState saves r.Task after a transition and appends its state
// event with message at at.
func CommitState(ctx context.Context, tx Tx, r *Row, message string, at time.Time) error {
	return commitState(ctx, tx, r, message, at, Writes{})
}

// commitState is CommitState writing w too, in the same Write.
func commitState(ctx context.Context, tx Tx, r *Row, message string, at time.Time, w Writes) error {
	r.Seq++
	w.Tasks = append(w.Tasks, *r)
	w.Events = append(w.Events, stateEvent(*r, message, at))
	return tx.Write(ctx, w)
}

// Claim starts the next attempt of each queued task of rows, all of one
// workspace and held by tx, for p.WorkerID (see lifecycle.Claim): it
// inserts the attempts and their task_execution usage and commits the
// states, a fixed number of statements for any number of rows. Marking the
// workspace served is the caller's.
func Claim(ctx context.Context, tx Tx, rows []Row, p store.ClaimParams) error {
	if len(rows) == 0 {
		return nil
	}
	ws := rows[0].Task.WorkspaceID
	attempts := make([]store.Attempt, len(rows))
	events := make([]store.TaskEvent, len(rows))
	usage := make([]store.UsageEvent, len(rows))
	for i := range rows {
		r := &rows[i]
		a, msg := lifecycle.Claim(&r.Task, p.Worker(i), p.Now, p.Lease)
		r.Seq++
		attempts[i], events[i] = a, stateEvent(*r, msg, p.Now)
		usage[i] = store.UsageEvent{ID: fmt.Sprintf("%s/%d/start", a.TaskID, a.Number), WorkspaceID: ws,
			Metric: store.MetricTaskExecutions, Value: 1, At: p.Now, TaskID: a.TaskID}
	}
	return tx.Write(ctx, Writes{Workspace: ws, NewAttempts: attempts, Usage: usage, Tasks: rows, Events: events})
}

// meterEvents are the usage events of what attempt a gained since it read
// was: the growth of its execution time and of its agent-reported tokens
// and cost, at at. An event's id is the attempt, the metric and the new
// running total, so it is unique and a replay adds nothing.
func meterEvents(workspaceID string, was, a store.Attempt, at time.Time) []store.UsageEvent {
	var events []store.UsageEvent
	for _, m := range []struct {
		metric   string
		was, now int64
	}{
		{store.MetricExecutionMS, was.ExecutionMS, a.ExecutionMS},
		{store.MetricTokens, was.Tokens, a.Tokens},
		{store.MetricCostMicros, was.CostMicros, a.CostMicros},
	} {
		if m.now > m.was {
			events = append(events, store.UsageEvent{ID: fmt.Sprintf("%s/%d/%s/%d", a.TaskID, a.Number, m.metric, m.now),
				WorkspaceID: workspaceID, Metric: m.metric, Value: m.now - m.was, At: at, TaskID: a.TaskID})
		}
	}
	return events
}

// CreateTask inserts t as queued (see lifecycle.New for what it keeps of
// t) with its first state event, and returns it with created=true. If
// t.IdempotencyKey is set and the workspace already has a task with that
// key, it returns that task and created=false, or that task and
// store.ErrConflict when its RequestHash differs. Returns
// store.ErrNotFound if the workspace does not exist, store.ErrConflict if
// the id is taken. With admit set, see store.TaskStore.CreateTask.
func (run Runner) CreateTask(ctx context.Context, t store.Task, admit store.Admit) (store.Task, bool, error) {
	t = lifecycle.New(t)
	var (
		got     store.Task
		created bool
	)
	err := run(ctx, func(tx Tx) error {
		replay := func() error {
			var err error
			if got, err = tx.TaskByIdempotencyKey(ctx, t.WorkspaceID, t.IdempotencyKey); err != nil {
				return err
			}
			if !bytes.Equal(got.RequestHash, t.RequestHash) {
				return fmt.Errorf("idempotency key %q was used with other parameters: %w", t.IdempotencyKey, store.ErrConflict)
			}
			return nil
		}
		if admit != nil {
			r, inserted, queued, used, err := tx.InsertCounted(ctx, t)
			if err != nil {
				return err
			}
			if !inserted {
				return replay() // a replay is answered, not admitted again
			}
			if err := admit(queued, used); err != nil {
				return err // the insert is rolled back
			}
			got, created = r.Task, true
			return nil
		}
		r, inserted, err := tx.InsertTask(ctx, t)
		if err != nil {
			return err
		}
		if !inserted {
			return replay()
		}
		got, created = r.Task, true
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) || got.ID == "" {
			got = store.Task{}
		}
		return got, false, fmt.Errorf("create task %s: %w", t.ID, err)
	}
	return got, created, nil
}

// CreateTasks creates ts, all of one workspace, each asked of its admit
// in order under one lock of the workspace (see store.TaskStore
// CreateTasks): a replay of an idempotency key is answered without asking,
// an admitted task counts as queued for the ones after it.
func (run Runner) CreateTasks(ctx context.Context, ts []store.Task, admits []store.Admit) ([]store.Created, error) {
	out := make([]store.Created, len(ts))
	if len(ts) == 0 {
		return out, nil
	}
	err := run(ctx, func(tx Tx) error {
		clear(out) // a retried transaction starts over
		ws := ts[0].WorkspaceID
		queued, used, err := tx.LockCounted(ctx, ws, ts[0].CreatedAt)
		if err != nil {
			return err
		}
		for i, t := range ts {
			t = lifecycle.New(t)
			res := &out[i]
			if t.WorkspaceID != ws {
				res.Err = fmt.Errorf("create task %s: not of workspace %s: %w", t.ID, ws, store.ErrConflict)
				continue
			}
			// answer answers a replay of t's idempotency key with got.
			answer := func(got store.Task) {
				res.Task = got
				if !bytes.Equal(got.RequestHash, t.RequestHash) {
					res.Err = fmt.Errorf("create task %s: idempotency key %q was used with other parameters: %w",
						t.ID, t.IdempotencyKey, store.ErrConflict)
				}
			}
			if t.IdempotencyKey != "" {
				got, err := tx.TaskByIdempotencyKey(ctx, ws, t.IdempotencyKey)
				if err == nil {
					answer(got) // a replay is answered, not admitted again
					continue
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			if err := admits[i](queued, used); err != nil {
				res.Err = fmt.Errorf("create task %s: %w", t.ID, err)
				continue
			}
			r, inserted, err := tx.InsertTask(ctx, t)
			if err != nil {
				return err
			}
			if !inserted { // taken meanwhile by a create that did not lock
				got, err := tx.TaskByIdempotencyKey(ctx, ws, t.IdempotencyKey)
				if err != nil {
					return err
				}
				answer(got)
				continue
			}
			res.Task, res.Created = r.Task, true
			queued++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Heartbeat extends the lease of the current running attempt to now+lease,
// accrues its execution since the last heartbeat and records usage totals
// (never lowering them), and returns the task. Returns store.ErrNotFound if
// the task is absent, and the task with store.ErrStale if attempt is not
// current and running (nothing changes).
func (f *Flows) Heartbeat(ctx context.Context, workspaceID, id string, attempt int, usage *store.Usage, now time.Time, lease time.Duration) (store.Task, error) {
	t, err := f.fenced(ctx, workspaceID, id, attempt, now, func(t *store.Task, a *store.Attempt) (bool, string, error) {
		lifecycle.Heartbeat(t, a, usage, now, lease)
		return false, "", nil
	})
	if err != nil {
		return t, fmt.Errorf("heartbeat task %s attempt %d: %w", id, attempt, err)
	}
	return t, nil
}

// Complete ends the current running attempt with o (see
// lifecycle.Complete). Returns store.ErrNotFound if the task is absent, and
// the task with store.ErrStale if attempt is not current and running:
// then nothing changes, not even usage.
func (f *Flows) Complete(ctx context.Context, workspaceID, id string, attempt int, o store.Outcome) (store.Task, error) {
	t, err := f.fenced(ctx, workspaceID, id, attempt, o.Now, func(t *store.Task, a *store.Attempt) (bool, string, error) {
		msg, err := lifecycle.Complete(t, a, o)
		return true, msg, err
	})
	if err != nil {
		return t, fmt.Errorf("complete task %s attempt %d: %w", id, attempt, err)
	}
	return t, nil
}

// EndTask moves the running task and its current attempt to status
// (api.TaskTimedOut or api.TaskTerminated) with reason, accruing execution
// up to now. Returns store.ErrNotFound if the task is absent, and the task
// with store.ErrStale if attempt is not current and running.
func (f *Flows) EndTask(ctx context.Context, workspaceID, id string, attempt int, status, reason string, now time.Time) (store.Task, error) {
	t, err := f.fenced(ctx, workspaceID, id, attempt, now, func(t *store.Task, a *store.Attempt) (bool, string, error) {
		msg, err := lifecycle.End(t, a, status, reason, now)
		return true, msg, err
	})
	if err != nil {
		return t, fmt.Errorf("end task %s attempt %d: %w", id, attempt, err)
	}
	return t, nil
}

// CancelTask cancels a queued or running task (a running one's attempt
// too, its execution accrued up to now) with reason. Returns
// store.ErrNotFound if absent, and the task with store.ErrConflict if it
// is already terminal.
func (run Runner) CancelTask(ctx context.Context, workspaceID, id, reason string, now time.Time) (store.Task, error) {
	var out store.Task
	err := run(ctx, func(tx Tx) error {
		r, err := tx.LockTask(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		if api.IsTerminal(r.Task.Status) {
			out = r.Task
			return fmt.Errorf("task is %s: %w", r.Task.Status, store.ErrConflict)
		}
		var a *store.Attempt
		if r.Task.Status == api.TaskRunning {
			cur, err := tx.Attempts(ctx, []AttemptRef{{TaskID: id, Number: r.Task.Attempt}})
			if err != nil {
				return err
			}
			if len(cur) != 1 {
				return fmt.Errorf("attempt %d: %w", r.Task.Attempt, store.ErrNotFound)
			}
			a = &cur[0]
		}
		var was store.Attempt
		if a != nil {
			was = *a
		}
		msg := lifecycle.Cancel(&r.Task, a, reason, now)
		var w Writes
		if a != nil {
			w.Attempts, w.Usage = []store.Attempt{*a}, meterEvents(r.Task.WorkspaceID, was, *a, now)
		}
		if err := commitState(ctx, tx, &r, msg, now, w); err != nil {
			return err
		}
		out = r.Task
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			out = store.Task{}
		}
		return out, fmt.Errorf("cancel task %s: %w", id, err)
	}
	return out, nil
}

// LineKind is what AppendLogs stores lines as: log lines (Type
// api.EventLog) or the lines of a token stream (api.EventStream) on
// Channel.
type LineKind struct{ Type, Channel string }

// LogLines are log lines.
var LogLines = LineKind{Type: api.EventLog}

// StatusColumn is what the task_events status column holds for e: a
// state event's status, or a stream event's channel (the one column
// serves both; no event has both).
func StatusColumn(e store.TaskEvent) string {
	if e.Type == api.EventStream {
		return e.Channel
	}
	return e.Status
}

// FromStatusColumn moves a stream event's channel, read from the status
// column into e.Status, to e.Channel.
func FromStatusColumn(e *store.TaskEvent) {
	if e.Type == api.EventStream {
		e.Channel, e.Status = e.Status, ""
	}
}

// AppendLogs stores lines (made valid UTF-8 without NULs) of the current
// running attempt as log events at now, within the task's log budget of
// maxBytes (< 0: no limit; 0 stores none): the lines that would take the task's stored log
// bytes past it, and every line after the first of those, are dropped and
// counted; the first time lines are dropped one notice line says so (it
// is not counted against the budget). Returns store.ErrNotFound if the
// task is absent, store.ErrStale if attempt is not current and running.
func (run Runner) AppendLogs(ctx context.Context, workspaceID, id string, attempt int, lines []string, maxBytes int64, now time.Time) (store.LogResult, error) {
	return run.appendLines(ctx, workspaceID, id, LogLines, attempt, lines, maxBytes, now)
}

// AppendStream is AppendLogs for the lines of a token stream on channel:
// they become stream events, in the same log budget (the notice of the
// first drop is a log line).
func (run Runner) AppendStream(ctx context.Context, workspaceID, id string, attempt int, channel string, lines []string, maxBytes int64, now time.Time) (store.LogResult, error) {
	return run.appendLines(ctx, workspaceID, id, LineKind{Type: api.EventStream, Channel: channel}, attempt, lines, maxBytes, now)
}

func (run Runner) appendLines(ctx context.Context, workspaceID, id string, k LineKind, attempt int, lines []string, maxBytes int64, now time.Time) (store.LogResult, error) {
	clean := make([]string, len(lines))
	for i, l := range lines {
		clean[i] = lifecycle.Clean(l)
	}
	var res store.LogResult
	err := run(ctx, func(tx Tx) error {
		res = store.LogResult{}
		r, err := tx.LockTask(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		if !lifecycle.Current(r.Task, attempt) {
			return store.ErrStale
		}
		if len(clean) == 0 {
			return nil
		}
		keep, bytes := LogBudget(clean, r.Task.LogBytes, maxBytes, r.Task.LogsDropped > 0)
		res.Stored, res.Dropped = keep, len(clean)-keep
		if err := tx.AppendLogs(ctx, r, k, attempt, clean[:keep], bytes, int64(res.Dropped), now); err != nil {
			return err
		}
		if res.Dropped == 0 || r.Task.LogsDropped > 0 {
			return nil
		}
		r.Seq += int64(keep)
		notice := fmt.Sprintf("[baton] log budget of %d bytes per task reached: further log lines are dropped and counted", maxBytes)
		return tx.AppendLogs(ctx, r, LogLines, attempt, []string{notice}, 0, 0, now)
	})
	if err != nil {
		return store.LogResult{}, fmt.Errorf("append logs of task %s attempt %d: %w", id, attempt, err)
	}
	return res, nil
}

// LogBudget returns how many of lines, in order, fit in a task's log
// budget of maxBytes (< 0: no limit) that has used bytes already, and
// their bytes. A line counts its length plus one (its newline). Once a
// line does not fit, none after it is kept, so the stored log is a prefix
// of what the agent wrote; a task that has dropped lines before keeps
// none.
func LogBudget(lines []string, used, maxBytes int64, dropping bool) (keep int, bytes int64) {
	if maxBytes < 0 {
		for _, l := range lines {
			bytes += int64(len(l)) + 1
		}
		return len(lines), bytes
	}
	if dropping {
		return 0, 0
	}
	for _, l := range lines {
		n := int64(len(l)) + 1
		if used+bytes+n > maxBytes {
			break
		}
		bytes += n
		keep++
	}
	return keep, bytes
}

// ExpireLeases handles every running task whose lease ended before now, of
// every workspace (it is the reaper's, not a tenant's, call): the attempt
// expires, accruing nothing past its last heartbeat, and the task is queued
// again at now+backoff(attempt) with reason "lease expired" while attempts
// remain, else it fails. It works in batches of ExpireBatch, one
// transaction each, so other writers get turns. It returns the tasks
// changed, also when a later batch fails.
func (run Runner) ExpireLeases(ctx context.Context, now time.Time, backoff func(attempt int) time.Duration) ([]store.Task, error) {
	var out []store.Task
	for {
		var batch []store.Task
		err := run(ctx, func(tx Tx) error {
			batch = batch[:0]
			expired, err := tx.LockExpired(ctx, now, ExpireBatch)
			if err != nil {
				return fmt.Errorf("find expired leases: %w", err)
			}
			refs := make([]AttemptRef, len(expired))
			for i, r := range expired {
				refs[i] = AttemptRef{TaskID: r.Task.ID, Number: r.Task.Attempt}
			}
			read, err := tx.Attempts(ctx, refs)
			if err != nil {
				return fmt.Errorf("read attempts: %w", err)
			}
			attempts := make(map[AttemptRef]store.Attempt, len(read))
			for _, a := range read {
				attempts[AttemptRef{TaskID: a.TaskID, Number: a.Number}] = a
			}
			changed := make([]store.Attempt, 0, len(expired))
			events := make([]store.TaskEvent, 0, len(expired))
			for i := range expired {
				r := &expired[i]
				a, ok := attempts[refs[i]]
				if !ok {
					return fmt.Errorf("task %s: attempt %d: %w", r.Task.ID, r.Task.Attempt, store.ErrNotFound)
				}
				msg := lifecycle.Expire(&r.Task, &a, now, backoff)
				r.Seq++
				changed = append(changed, a)
				events = append(events, stateEvent(*r, msg, now))
				batch = append(batch, r.Task)
			}
			if len(expired) == 0 {
				return nil
			}
			return tx.Write(ctx, Writes{Attempts: changed, Tasks: expired, Events: events})
		})
		if err != nil {
			return out, fmt.Errorf("expire leases: %w", err)
		}
		out = append(out, batch...)
		if len(batch) < ExpireBatch {
			return out, nil
		}
	}
}
