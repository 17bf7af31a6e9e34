package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
)

// Rows of task_steps and task_signals (durable steps): txRows' flow.StepTx.

const stepColumns = `task_id, key, base_key, workspace_id, kind, status, attempts, attempt, seen_attempt,
	at_most_once, input_hash, output, error, execution_ms, tokens, cost_micros,
	base_execution_ms, base_tokens, base_cost_micros, waste_execution_ms, waste_tokens, waste_cost_micros,
	wait_reason, wait_signal, child_id, wake_at, seq, started_at, finished_at`

func scanStep(sc scanner) (store.Step, error) {
	var (
		s              sql.NullString
		st             store.Step
		started        int64
		wake, finished sql.NullInt64
	)
	err := sc.Scan(&st.TaskID, &st.Key, &st.BaseKey, &st.WorkspaceID, &st.Kind, &st.Status, &st.Attempts, &st.Attempt, &st.SeenAttempt,
		&st.AtMostOnce, &st.InputHash, &s, &st.Error, &st.ExecutionMS, &st.Tokens, &st.CostMicros,
		&st.BaseExecutionMS, &st.BaseTokens, &st.BaseCostMicros, &st.WasteExecutionMS, &st.WasteTokens, &st.WasteCostMicros,
		&st.WaitReason, &st.WaitSignal, &st.ChildID, &wake, &st.Seq, &started, &finished)
	if err != nil {
		return store.Step{}, err
	}
	if s.Valid {
		st.Output = []byte(s.String)
	}
	st.WakeAt, st.StartedAt, st.FinishedAt = fromNullMicros(wake), fromMicros(started), fromNullMicros(finished)
	return st, nil
}

// Steps reads the task's journal in seq order.
func (x txRows) Steps(ctx context.Context, taskID string) ([]store.Step, error) {
	rows, err := x.tx.QueryContext(ctx, `SELECT `+stepColumns+` FROM task_steps WHERE task_id = ?1 ORDER BY seq`, taskID)
	out, err := collect(rows, err, scanStep)
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", mapErr(err))
	}
	return out, nil
}

// StepsOf reads the task's steps of baseKey in seq order and the journal's
// highest seq.
func (x txRows) StepsOf(ctx context.Context, taskID, baseKey string) ([]store.Step, int, error) {
	rows, err := x.tx.QueryContext(ctx, `SELECT `+stepColumns+` FROM task_steps WHERE task_id = ?1 AND base_key = ?2 ORDER BY seq`, taskID, baseKey)
	out, err := collect(rows, err, scanStep)
	if err != nil {
		return nil, 0, fmt.Errorf("read steps: %w", mapErr(err))
	}
	var seq int
	if err := x.tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM task_steps WHERE task_id = ?1`, taskID).Scan(&seq); err != nil {
		return nil, 0, fmt.Errorf("read steps: %w", mapErr(err))
	}
	return out, seq, nil
}

// SaveStep upserts s.
func (x txRows) SaveStep(ctx context.Context, s store.Step) error {
	_, err := x.tx.ExecContext(ctx, `INSERT OR REPLACE INTO task_steps (`+stepColumns+`)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
			?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)`,
		s.TaskID, s.Key, s.BaseKey, s.WorkspaceID, s.Kind, s.Status, s.Attempts, s.Attempt, s.SeenAttempt,
		s.AtMostOnce, s.InputHash, rowcodec.NullText(s.Output), s.Error, s.ExecutionMS, s.Tokens, s.CostMicros,
		s.BaseExecutionMS, s.BaseTokens, s.BaseCostMicros, s.WasteExecutionMS, s.WasteTokens, s.WasteCostMicros,
		s.WaitReason, s.WaitSignal, s.ChildID, nullMicros(s.WakeAt), s.Seq, micros(s.StartedAt), nullMicros(s.FinishedAt))
	if err != nil {
		return fmt.Errorf("save step %s: %w", s.Key, mapErr(err))
	}
	return nil
}

// DeleteSteps deletes the running steps and those from fromSeq on.
func (x txRows) DeleteSteps(ctx context.Context, taskID string, fromSeq int) error {
	_, err := x.tx.ExecContext(ctx, `DELETE FROM task_steps WHERE task_id = ?1
		AND (status = 'running' OR (?2 > 0 AND seq >= ?2))`, taskID, fromSeq)
	return mapErr(err)
}

const signalColumns = `id, workspace_id, task_id, seq, name, data, idempotency_key, consumed_by, created_at`

func scanSignal(sc scanner) (store.Signal, error) {
	var (
		s    store.Signal
		data string
		idem sql.NullString
		at   int64
	)
	if err := sc.Scan(&s.ID, &s.WorkspaceID, &s.TaskID, &s.Seq, &s.Name, &data, &idem, &s.ConsumedBy, &at); err != nil {
		return store.Signal{}, err
	}
	s.Data, s.IdempotencyKey, s.CreatedAt = []byte(data), idem.String, fromMicros(at)
	return s, nil
}

// PendingSignal reads the oldest unconsumed signal name of the task.
func (x txRows) PendingSignal(ctx context.Context, taskID, name string) (store.Signal, bool, error) {
	s, err := scanSignal(x.tx.QueryRowContext(ctx, `SELECT `+signalColumns+` FROM task_signals
		WHERE task_id = ?1 AND name = ?2 AND consumed_by = '' ORDER BY seq LIMIT 1`, taskID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Signal{}, false, nil
	}
	if err != nil {
		return store.Signal{}, false, mapErr(err)
	}
	return s, true, nil
}

// InsertSignal inserts s with the task's next seq, unless its idempotency
// key is taken.
func (x txRows) InsertSignal(ctx context.Context, s store.Signal) (store.Signal, bool, error) {
	if s.IdempotencyKey != "" {
		got, err := scanSignal(x.tx.QueryRowContext(ctx, `SELECT `+signalColumns+` FROM task_signals
			WHERE task_id = ?1 AND idempotency_key = ?2`, s.TaskID, s.IdempotencyKey))
		if err == nil {
			return got, false, nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return store.Signal{}, false, mapErr(err)
		}
	}
	got, err := scanSignal(x.tx.QueryRowContext(ctx, `INSERT INTO task_signals (`+signalColumns+`)
		VALUES (?1, ?2, ?3, (SELECT coalesce(max(seq), 0) + 1 FROM task_signals WHERE task_id = ?3), ?4, ?5, ?6, '', ?7)
		RETURNING `+signalColumns,
		s.ID, s.WorkspaceID, s.TaskID, s.Name, string(s.Data), rowcodec.NullText(s.IdempotencyKey), micros(s.CreatedAt)))
	if err != nil {
		return store.Signal{}, false, fmt.Errorf("insert signal: %w", mapErr(err))
	}
	return got, true, nil
}

// ConsumeSignal marks signal id consumed by step.
func (x txRows) ConsumeSignal(ctx context.Context, id, step string) error {
	_, err := x.tx.ExecContext(ctx, `UPDATE task_signals SET consumed_by = ?2 WHERE id = ?1`, id, step)
	return mapErr(err)
}

// ChildrenCost sums the cost of the task's children.
func (x txRows) ChildrenCost(ctx context.Context, taskID string) (int64, error) {
	var n int64
	err := x.tx.QueryRowContext(ctx, `SELECT coalesce(sum(cost_micros), 0) FROM tasks WHERE parent_id = ?1`, taskID).Scan(&n)
	return n, mapErr(err)
}

// SetTaskBudget writes the task's budget and priority.
func (x txRows) SetTaskBudget(ctx context.Context, id string, maxCost int64, priority int) error {
	_, err := x.tx.ExecContext(ctx, `UPDATE tasks SET max_cost_micros = ?2, priority = ?3 WHERE id = ?1`, id, maxCost, priority)
	return mapErr(err)
}

// LockWakeable reads up to limit waiting tasks whose timer passed at now
// or whose awaited child has ended (a spawn's, or a join's whose end
// signal did not come: flow.StepTx).
func (x txRows) LockWakeable(ctx context.Context, now time.Time, limit int) ([]flow.Row, error) {
	rows, err := x.tx.QueryContext(ctx, `SELECT `+taskColumns+` FROM tasks t
		WHERE t.status = 'waiting' AND (t.wake_at <= ?1 OR EXISTS (
			SELECT 1 FROM task_steps s JOIN tasks c ON c.id = s.child_id
			WHERE s.task_id = t.id AND s.status = 'waiting'
				AND c.status IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'terminated')
				AND (s.kind = 'spawn' OR s.kind = 'wait' AND NOT EXISTS (
					SELECT 1 FROM task_signals g WHERE g.task_id = t.id AND g.idempotency_key = 'child:' || c.id))))
		ORDER BY t.id LIMIT ?2`, micros(now), limit)
	return collect(rows, err, scanTaskRow)
}
