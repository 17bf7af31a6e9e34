package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
	"github.com/genericcorp/baton/pkg/api"
)

// Rows of tasks, task_attempts and task_events, read and written inside a
// write transaction (which, as the one writer, holds them all): txRows'
// flow.Tx methods on tasks. The flows are in the flow package, the
// transitions in the lifecycle package.

const taskColumns = `id, workspace_id, queue, status, priority, input, output, error, labels,
	attempt, max_attempts, timeout_seconds, idempotency_key, request_hash, status_reason,
	run_at, lease_expires_at, worker_id, created_at, started_at, finished_at, attempt_started_at,
	execution_ms, tokens, cost_micros, event_seq, log_bytes, logs_dropped,
	max_cost_micros, parent_id, suspended_attempts, wake_at`

func scanTaskRow(sc scanner) (flow.Row, error) {
	var (
		r                                        flow.Row
		t                                        = &r.Task
		input, labels                            string
		output, idem                             sql.NullString
		runAt, createdAt                         int64
		lease, started, finished, attemptStarted sql.NullInt64
		wake                                     sql.NullInt64
	)
	err := sc.Scan(&t.ID, &t.WorkspaceID, &t.Queue, &t.Status, &t.Priority, &input, &output, &t.Error, &labels,
		&t.Attempt, &t.MaxAttempts, &t.TimeoutSeconds, &idem, &t.RequestHash, &t.StatusReason,
		&runAt, &lease, &t.WorkerID, &createdAt, &started, &finished, &attemptStarted,
		&t.ExecutionMS, &t.Tokens, &t.CostMicros, &r.Seq, &t.LogBytes, &t.LogsDropped,
		&t.MaxCostMicros, &t.ParentID, &t.SuspendedAttempts, &wake)
	if err != nil {
		return flow.Row{}, err
	}
	if err := rowcodec.DecodeJSON(labels, &t.Labels); err != nil {
		return flow.Row{}, fmt.Errorf("task %s labels: %w", t.ID, err)
	}
	t.Input = []byte(input)
	if output.Valid {
		t.Output = []byte(output.String)
	}
	t.IdempotencyKey = idem.String
	t.RunAt, t.CreatedAt = fromMicros(runAt), fromMicros(createdAt)
	t.LeaseExpiresAt, t.StartedAt = fromNullMicros(lease), fromNullMicros(started)
	t.FinishedAt, t.AttemptStarted = fromNullMicros(finished), fromNullMicros(attemptStarted)
	t.WakeAt = fromNullMicros(wake)
	return r, nil
}

func scanTask(sc scanner) (store.Task, error) {
	r, err := scanTaskRow(sc)
	return r.Task, err
}

// LockTask returns task id of workspaceID, or store.ErrNotFound. Inside
// the write transaction no one else can change it.
func (x txRows) LockTask(ctx context.Context, workspaceID, id string) (flow.Row, error) {
	row := x.tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = ?1 AND id = ?2`, workspaceID, id)
	r, err := scanTaskRow(row)
	return r, mapErr(err)
}

// LockTasks returns the tasks refs name, a statement each (in-process:
// no round trips), in id order like PostgreSQL's, and the current attempt
// of each running one.
func (x txRows) LockTasks(ctx context.Context, refs []flow.TaskRef) ([]flow.Row, []store.Attempt, error) {
	out := make([]flow.Row, 0, len(refs))
	seen := make(map[string]bool, len(refs))
	var current []flow.AttemptRef
	for _, ref := range refs {
		if seen[ref.ID] {
			continue
		}
		seen[ref.ID] = true
		r, err := x.LockTask(ctx, ref.WorkspaceID, ref.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, nil, err
		}
		out = append(out, r)
		if r.Task.Status == api.TaskRunning {
			current = append(current, flow.AttemptRef{TaskID: r.Task.ID, Number: r.Task.Attempt})
		}
	}
	slices.SortFunc(out, func(a, b flow.Row) int { return strings.Compare(a.Task.ID, b.Task.ID) })
	attempts, err := x.Attempts(ctx, current)
	if err != nil {
		return nil, nil, err
	}
	return out, attempts, nil
}

// LockExpired returns up to limit running tasks whose lease ended before
// now, the oldest lease first.
func (x txRows) LockExpired(ctx context.Context, now time.Time, limit int) ([]flow.Row, error) {
	rows, err := x.tx.QueryContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE status = 'running' AND lease_expires_at < ?1
		ORDER BY lease_expires_at LIMIT ?2`, micros(now), limit)
	return collect(rows, err, scanTaskRow)
}

// SaveTasks writes every mutable column of each r.Task and sets its event
// seq to r.Seq: a statement per row, which in-process SQLite runs without
// a round trip.
func (x txRows) SaveTasks(ctx context.Context, rows []flow.Row) error {
	for _, r := range rows {
		if err := x.saveTask(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (x txRows) saveTask(ctx context.Context, r flow.Row) error {
	t := r.Task
	_, err := x.tx.ExecContext(ctx, `UPDATE tasks SET status = ?2, output = ?3, error = ?4, status_reason = ?5,
		attempt = ?6, run_at = ?7, lease_expires_at = ?8, worker_id = ?9, started_at = ?10,
		finished_at = ?11, attempt_started_at = ?12, execution_ms = ?13, tokens = ?14,
		cost_micros = ?15, event_seq = ?16, suspended_attempts = ?17, wake_at = ?18
		WHERE id = ?1`,
		t.ID, t.Status, rowcodec.NullText(t.Output), t.Error, t.StatusReason,
		t.Attempt, micros(t.RunAt), nullMicros(t.LeaseExpiresAt), t.WorkerID, nullMicros(t.StartedAt),
		nullMicros(t.FinishedAt), nullMicros(t.AttemptStarted), t.ExecutionMS, t.Tokens,
		t.CostMicros, r.Seq, t.SuspendedAttempts, nullMicros(t.WakeAt))
	if err != nil {
		return fmt.Errorf("update task: %w", mapErr(err))
	}
	return nil
}

// InsertTask inserts the new task t with event seq 1, or reports that its
// idempotency key is taken (writers are serialized: no race).
func (x txRows) InsertTask(ctx context.Context, t store.Task) (flow.Row, bool, error) {
	labels, err := rowcodec.EncodeJSON(t.Labels, len(t.Labels), "{}")
	if err != nil {
		return flow.Row{}, false, err
	}
	row := x.tx.QueryRowContext(ctx, `INSERT INTO tasks (id, workspace_id, queue, status, priority, input,
		labels, max_attempts, timeout_seconds, idempotency_key, request_hash, status_reason,
		run_at, created_at, event_seq, max_cost_micros, parent_id)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1, ?15, ?16)
		ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
		RETURNING `+taskColumns,
		t.ID, t.WorkspaceID, t.Queue, t.Status, t.Priority, string(t.Input),
		labels, t.MaxAttempts, t.TimeoutSeconds, rowcodec.NullText(t.IdempotencyKey), rowcodec.NullBytes(t.RequestHash), t.StatusReason,
		micros(t.RunAt), micros(t.CreatedAt), t.MaxCostMicros, t.ParentID)
	r, err := scanTaskRow(row)
	if errors.Is(err, sql.ErrNoRows) {
		return flow.Row{}, false, nil
	}
	if err != nil {
		return flow.Row{}, false, mapErr(err)
	}
	first := store.TaskEvent{TaskID: t.ID, WorkspaceID: t.WorkspaceID, Seq: 1, Type: api.EventState,
		Status: r.Task.Status, Message: t.StatusReason, At: t.CreatedAt}
	return r, true, x.InsertEvents(ctx, []store.TaskEvent{first})
}

// TaskByIdempotencyKey returns workspaceID's task with key.
func (x txRows) TaskByIdempotencyKey(ctx context.Context, workspaceID, key string) (store.Task, error) {
	row := x.tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = ?1 AND idempotency_key = ?2`, workspaceID, key)
	t, err := scanTask(row)
	return t, mapErr(err)
}

// InsertCounted reads workspace t.WorkspaceID's queued count and its use of
// the period holding t.CreatedAt, then inserts t (see InsertTask).
func (x txRows) InsertCounted(ctx context.Context, t store.Task) (flow.Row, bool, int, store.Consumed, error) {
	n, used, err := x.LockCounted(ctx, t.WorkspaceID, t.CreatedAt)
	if err != nil {
		return flow.Row{}, false, 0, used, err
	}
	r, inserted, err := x.InsertTask(ctx, t)
	return r, inserted, n, used, err
}

// LockCounted checks that workspace id exists (the one writer holds
// everything until the transaction ends: that is the lock), then reads
// AdmissionCounts.
func (x txRows) LockCounted(ctx context.Context, id string, at time.Time) (int, store.Consumed, error) {
	var one int
	if err := x.tx.QueryRowContext(ctx, `SELECT 1 FROM workspaces WHERE id = ?1`, id).Scan(&one); err != nil {
		return 0, store.Consumed{}, mapErr(err)
	}
	return x.AdmissionCounts(ctx, id, at)
}

// AdmissionCounts reads workspace id's queued count and its use of the
// period holding at.
func (x txRows) AdmissionCounts(ctx context.Context, id string, at time.Time) (int, store.Consumed, error) {
	var (
		n    int
		used store.Consumed
	)
	err := x.tx.QueryRowContext(ctx, `SELECT `+sqlstore.Count("?1", "'queued'")+`,
		`+usagerows.ConsumedColumns("?1", "?2"),
		id, micros(store.UsagePeriod(at))).Scan(&n, &used.Executions, &used.ExecutionMS, &used.CostMicros)
	return n, used, mapErr(err)
}

const eventColumns = `task_id, seq, workspace_id, type, status, attempt, message, at`

func scanEvent(sc scanner) (store.TaskEvent, error) {
	var (
		e  store.TaskEvent
		at int64
	)
	if err := sc.Scan(&e.TaskID, &e.Seq, &e.WorkspaceID, &e.Type, &e.Status, &e.Attempt, &e.Message, &at); err != nil {
		return store.TaskEvent{}, err
	}
	e.At = fromMicros(at)
	flow.FromStatusColumn(&e)
	return e, nil
}

// InsertEvents inserts events, a statement each.
func (x txRows) InsertEvents(ctx context.Context, events []store.TaskEvent) error {
	for _, e := range events {
		_, err := x.tx.ExecContext(ctx, `INSERT INTO task_events (`+eventColumns+`)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
			e.TaskID, e.Seq, e.WorkspaceID, e.Type, flow.StatusColumn(e), e.Attempt, e.Message, micros(e.At))
		if err != nil {
			return fmt.Errorf("insert event: %w", mapErr(err))
		}
	}
	return nil
}

// AppendLogs inserts lines as events of kind k after r.Seq and advances
// the task's event seq past them, counting their bytes and the dropped
// lines. A stream's channel goes in the status column (flow.StatusColumn).
func (x txRows) AppendLogs(ctx context.Context, r flow.Row, k flow.LineKind, attempt int, lines []string, addBytes, addDropped int64, at time.Time) error {
	t := r.Task
	if _, err := x.tx.ExecContext(ctx, `UPDATE tasks SET event_seq = ?2, log_bytes = log_bytes + ?3, logs_dropped = logs_dropped + ?4
		WHERE id = ?1`, t.ID, r.Seq+int64(len(lines)), addBytes, addDropped); err != nil {
		return fmt.Errorf("update task: %w", err)
	}
	if len(lines) == 0 {
		return nil
	}
	linesJSON, err := json.Marshal(lines)
	if err != nil {
		return err
	}
	// One statement for all lines: json_each numbers them from 0.
	_, err = x.tx.ExecContext(ctx, `INSERT INTO task_events (`+eventColumns+`)
		SELECT ?1, ?2 + l.key + 1, ?3, ?4, ?8, ?5, l.value, ?6
		FROM json_each(?7) l`,
		t.ID, r.Seq, t.WorkspaceID, k.Type, attempt, micros(at), string(linesJSON), k.Channel)
	if err != nil {
		return fmt.Errorf("insert log events: %w", err)
	}
	return nil
}

const attemptColumns = `task_id, number, worker_id, status, error, started_at, finished_at,
	heartbeat_at, execution_ms, tokens, cost_micros`

func scanAttempt(sc scanner) (store.Attempt, error) {
	var (
		a                      store.Attempt
		startedAt, heartbeatAt int64
		finishedAt             sql.NullInt64
	)
	err := sc.Scan(&a.TaskID, &a.Number, &a.WorkerID, &a.Status, &a.Error, &startedAt, &finishedAt,
		&heartbeatAt, &a.ExecutionMS, &a.Tokens, &a.CostMicros)
	if err != nil {
		return store.Attempt{}, err
	}
	a.StartedAt, a.HeartbeatAt, a.FinishedAt = fromMicros(startedAt), fromMicros(heartbeatAt), fromNullMicros(finishedAt)
	return a, nil
}

// Attempts reads the attempts refs name, a statement each.
func (x txRows) Attempts(ctx context.Context, refs []flow.AttemptRef) ([]store.Attempt, error) {
	out := make([]store.Attempt, 0, len(refs))
	for _, ref := range refs {
		row := x.tx.QueryRowContext(ctx, `SELECT `+attemptColumns+` FROM task_attempts
			WHERE task_id = ?1 AND number = ?2`, ref.TaskID, ref.Number)
		a, err := scanAttempt(row)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("attempt %d: %w", ref.Number, mapErr(err))
		}
		out = append(out, a)
	}
	return out, nil
}

// InsertAttempts inserts attempts of tasks of workspaceID, a statement each.
func (x txRows) InsertAttempts(ctx context.Context, workspaceID string, attempts []store.Attempt) error {
	for _, a := range attempts {
		_, err := x.tx.ExecContext(ctx, `INSERT INTO task_attempts (`+attemptColumns+`, workspace_id)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
			a.TaskID, a.Number, a.WorkerID, a.Status, a.Error, micros(a.StartedAt), nullMicros(a.FinishedAt),
			micros(a.HeartbeatAt), a.ExecutionMS, a.Tokens, a.CostMicros, workspaceID)
		if err != nil {
			return fmt.Errorf("insert attempt %d: %w", a.Number, mapErr(err))
		}
	}
	return nil
}

// SaveAttempts writes every mutable column of each attempt, a statement each.
func (x txRows) SaveAttempts(ctx context.Context, attempts []store.Attempt) error {
	for _, a := range attempts {
		_, err := x.tx.ExecContext(ctx, `UPDATE task_attempts SET status = ?3, error = ?4, finished_at = ?5,
			heartbeat_at = ?6, execution_ms = ?7, tokens = ?8, cost_micros = ?9
			WHERE task_id = ?1 AND number = ?2`,
			a.TaskID, a.Number, a.Status, a.Error, nullMicros(a.FinishedAt),
			micros(a.HeartbeatAt), a.ExecutionMS, a.Tokens, a.CostMicros)
		if err != nil {
			return fmt.Errorf("update attempt %d: %w", a.Number, mapErr(err))
		}
	}
	return nil
}

// Write applies w a statement per kind of row: in-process statements cost
// no round trip.
func (x txRows) Write(ctx context.Context, w flow.Writes) error { return flow.WriteEach(ctx, x, w) }
