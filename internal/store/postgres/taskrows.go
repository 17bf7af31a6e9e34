package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Rows of tasks, task_attempts and task_events, read and written inside a
// transaction. The transitions themselves are in the lifecycle package.

const taskColumns = `id, workspace_id, queue, status, priority, input, output, error, labels,
	attempt, max_attempts, timeout_seconds, idempotency_key, request_hash, status_reason,
	run_at, lease_expires_at, worker_id, created_at, started_at, finished_at, attempt_started_at,
	execution_ms, tokens, cost_micros, event_seq`

// taskRow is a task and the seq of its last event.
type taskRow struct {
	t   store.Task
	seq int64
}

func scanTaskRow(sc scanner) (taskRow, error) {
	var (
		r                                        taskRow
		t                                        = &r.t
		input, output, labels                    []byte
		idem                                     *string
		runAt, createdAt                         time.Time
		lease, started, finished, attemptStarted *time.Time
	)
	err := sc.Scan(&t.ID, &t.WorkspaceID, &t.Queue, &t.Status, &t.Priority, &input, &output, &t.Error, &labels,
		&t.Attempt, &t.MaxAttempts, &t.TimeoutSeconds, &idem, &t.RequestHash, &t.StatusReason,
		&runAt, &lease, &t.WorkerID, &createdAt, &started, &finished, &attemptStarted,
		&t.ExecutionMS, &t.Tokens, &t.CostMicros, &r.seq)
	if err != nil {
		return taskRow{}, err
	}
	if err := decodeJSON(labels, &t.Labels); err != nil {
		return taskRow{}, fmt.Errorf("task %s labels: %w", t.ID, err)
	}
	t.Input = input
	if output != nil {
		t.Output = output
	}
	if idem != nil {
		t.IdempotencyKey = *idem
	}
	t.RunAt, t.CreatedAt = runAt.UTC(), createdAt.UTC()
	t.LeaseExpiresAt, t.StartedAt = utcPtr(lease), utcPtr(started)
	t.FinishedAt, t.AttemptStarted = utcPtr(finished), utcPtr(attemptStarted)
	return r, nil
}

func scanTask(sc scanner) (store.Task, error) {
	r, err := scanTaskRow(sc)
	return r.t, err
}

// nullJSON stores an empty JSON value as NULL.
func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// lockTask locks task id of workspaceID for update and returns it, or
// store.ErrNotFound.
func lockTask(ctx context.Context, tx pgx.Tx, workspaceID, id string) (taskRow, error) {
	row := tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, workspaceID, id)
	r, err := scanTaskRow(row)
	return r, mapErr(err)
}

// saveTask writes every mutable column of r.t (locked by the caller) and
// sets its event seq to r.seq.
func saveTask(ctx context.Context, tx pgx.Tx, r taskRow) error {
	t := r.t
	_, err := tx.Exec(ctx, `UPDATE tasks SET status = $2, output = $3, error = $4, status_reason = $5,
		attempt = $6, run_at = $7, lease_expires_at = $8, worker_id = $9, started_at = $10,
		finished_at = $11, attempt_started_at = $12, execution_ms = $13, tokens = $14,
		cost_micros = $15, event_seq = $16
		WHERE id = $1`,
		t.ID, t.Status, nullJSON(t.Output), t.Error, t.StatusReason,
		t.Attempt, ts(t.RunAt), nullTS(t.LeaseExpiresAt), t.WorkerID, nullTS(t.StartedAt),
		nullTS(t.FinishedAt), nullTS(t.AttemptStarted), t.ExecutionMS, t.Tokens,
		t.CostMicros, r.seq)
	if err != nil {
		return fmt.Errorf("update task: %w", mapErr(err))
	}
	return nil
}

// commitState saves r.t after a transition and appends its state event
// with message at at.
func commitState(ctx context.Context, tx pgx.Tx, r *taskRow, message string, at time.Time) error {
	r.seq++
	if err := saveTask(ctx, tx, *r); err != nil {
		return err
	}
	ev := store.TaskEvent{TaskID: r.t.ID, WorkspaceID: r.t.WorkspaceID, Seq: r.seq, Type: api.EventState,
		Status: r.t.Status, Attempt: r.t.Attempt, Message: message, At: at}
	return insertEvent(ctx, tx, ev)
}

const eventColumns = `task_id, seq, workspace_id, type, status, attempt, message, at`

func scanEvent(sc scanner) (store.TaskEvent, error) {
	var (
		e  store.TaskEvent
		at time.Time
	)
	if err := sc.Scan(&e.TaskID, &e.Seq, &e.WorkspaceID, &e.Type, &e.Status, &e.Attempt, &e.Message, &at); err != nil {
		return store.TaskEvent{}, err
	}
	e.At = at.UTC()
	return e, nil
}

func insertEvent(ctx context.Context, tx pgx.Tx, e store.TaskEvent) error {
	_, err := tx.Exec(ctx, `INSERT INTO task_events (`+eventColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.TaskID, e.Seq, e.WorkspaceID, e.Type, e.Status, e.Attempt, e.Message, ts(e.At))
	if err != nil {
		return fmt.Errorf("insert event: %w", mapErr(err))
	}
	return nil
}

const attemptColumns = `task_id, number, worker_id, status, error, started_at, finished_at,
	heartbeat_at, execution_ms, tokens, cost_micros`

func scanAttempt(sc scanner) (store.Attempt, error) {
	var (
		a                      store.Attempt
		startedAt, heartbeatAt time.Time
		finishedAt             *time.Time
	)
	err := sc.Scan(&a.TaskID, &a.Number, &a.WorkerID, &a.Status, &a.Error, &startedAt, &finishedAt,
		&heartbeatAt, &a.ExecutionMS, &a.Tokens, &a.CostMicros)
	if err != nil {
		return store.Attempt{}, err
	}
	a.StartedAt, a.HeartbeatAt, a.FinishedAt = startedAt.UTC(), heartbeatAt.UTC(), utcPtr(finishedAt)
	return a, nil
}

// getAttempt reads attempt number of task id; the caller holds the task's
// row lock, which guards its attempts too.
func getAttempt(ctx context.Context, tx pgx.Tx, id string, number int) (store.Attempt, error) {
	row := tx.QueryRow(ctx, `SELECT `+attemptColumns+` FROM task_attempts
		WHERE task_id = $1 AND number = $2`, id, number)
	a, err := scanAttempt(row)
	if err != nil {
		return store.Attempt{}, fmt.Errorf("attempt %d: %w", number, mapErr(err))
	}
	return a, nil
}

func insertAttempt(ctx context.Context, tx pgx.Tx, workspaceID string, a store.Attempt) error {
	_, err := tx.Exec(ctx, `INSERT INTO task_attempts (`+attemptColumns+`, workspace_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.TaskID, a.Number, a.WorkerID, a.Status, a.Error, ts(a.StartedAt), nullTS(a.FinishedAt),
		ts(a.HeartbeatAt), a.ExecutionMS, a.Tokens, a.CostMicros, workspaceID)
	if err != nil {
		return fmt.Errorf("insert attempt %d: %w", a.Number, mapErr(err))
	}
	return nil
}

// saveAttempt writes every mutable column of a.
func saveAttempt(ctx context.Context, tx pgx.Tx, a store.Attempt) error {
	_, err := tx.Exec(ctx, `UPDATE task_attempts SET status = $3, error = $4, finished_at = $5,
		heartbeat_at = $6, execution_ms = $7, tokens = $8, cost_micros = $9
		WHERE task_id = $1 AND number = $2`,
		a.TaskID, a.Number, a.Status, a.Error, nullTS(a.FinishedAt),
		ts(a.HeartbeatAt), a.ExecutionMS, a.Tokens, a.CostMicros)
	if err != nil {
		return fmt.Errorf("update attempt %d: %w", a.Number, mapErr(err))
	}
	return nil
}
