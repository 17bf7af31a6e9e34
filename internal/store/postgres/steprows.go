package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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
		out            []byte
		st             store.Step
		started        time.Time
		wake, finished *time.Time
	)
	err := sc.Scan(&st.TaskID, &st.Key, &st.BaseKey, &st.WorkspaceID, &st.Kind, &st.Status, &st.Attempts, &st.Attempt, &st.SeenAttempt,
		&st.AtMostOnce, &st.InputHash, &out, &st.Error, &st.ExecutionMS, &st.Tokens, &st.CostMicros,
		&st.BaseExecutionMS, &st.BaseTokens, &st.BaseCostMicros, &st.WasteExecutionMS, &st.WasteTokens, &st.WasteCostMicros,
		&st.WaitReason, &st.WaitSignal, &st.ChildID, &wake, &st.Seq, &started, &finished)
	if err != nil {
		return store.Step{}, err
	}
	if out != nil {
		st.Output = out
	}
	st.WakeAt, st.StartedAt, st.FinishedAt = utcPtr(wake), started.UTC(), utcPtr(finished)
	return st, nil
}

// Steps reads the task's journal in seq order.
func (x txRows) Steps(ctx context.Context, taskID string) ([]store.Step, error) {
	rows, err := x.tx.Query(ctx, `SELECT `+stepColumns+` FROM task_steps WHERE task_id = $1 ORDER BY seq`, taskID)
	out, err := collect(rows, err, scanStep)
	if err != nil {
		return nil, fmt.Errorf("read steps: %w", mapErr(err))
	}
	return out, nil
}

// StepsOf reads the task's steps of baseKey in seq order and the journal's
// highest seq, in one statement.
func (x txRows) StepsOf(ctx context.Context, taskID, baseKey string) ([]store.Step, int, error) {
	var seq int
	rows, err := x.tx.Query(ctx, `SELECT `+stepColumns+`, (SELECT coalesce(max(seq), 0) FROM task_steps WHERE task_id = $1)
		FROM task_steps WHERE task_id = $1 AND base_key = $2 ORDER BY seq`, taskID, baseKey)
	out, err := collect(rows, err, func(sc scanner) (store.Step, error) {
		return scanStep(scanFunc(func(dest ...any) error { return sc.Scan(append(dest, &seq)...) }))
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read steps: %w", mapErr(err))
	}
	if len(out) == 0 {
		if err := x.tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM task_steps WHERE task_id = $1`, taskID).Scan(&seq); err != nil {
			return nil, 0, fmt.Errorf("read steps: %w", mapErr(err))
		}
	}
	return out, seq, nil
}

// SaveStep upserts s.
func (x txRows) SaveStep(ctx context.Context, s store.Step) error {
	_, err := x.tx.Exec(ctx, `INSERT INTO task_steps (`+stepColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::json, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24, $25, $26, $27, $28, $29)
		ON CONFLICT (task_id, key) DO UPDATE SET base_key = excluded.base_key, kind = excluded.kind,
			status = excluded.status, attempts = excluded.attempts, attempt = excluded.attempt,
			seen_attempt = excluded.seen_attempt, at_most_once = excluded.at_most_once,
			input_hash = excluded.input_hash, output = excluded.output, error = excluded.error,
			execution_ms = excluded.execution_ms, tokens = excluded.tokens, cost_micros = excluded.cost_micros,
			base_execution_ms = excluded.base_execution_ms, base_tokens = excluded.base_tokens,
			base_cost_micros = excluded.base_cost_micros, waste_execution_ms = excluded.waste_execution_ms,
			waste_tokens = excluded.waste_tokens, waste_cost_micros = excluded.waste_cost_micros,
			wait_reason = excluded.wait_reason, wait_signal = excluded.wait_signal, child_id = excluded.child_id,
			wake_at = excluded.wake_at, seq = excluded.seq, started_at = excluded.started_at,
			finished_at = excluded.finished_at`,
		s.TaskID, s.Key, s.BaseKey, s.WorkspaceID, s.Kind, s.Status, s.Attempts, s.Attempt, s.SeenAttempt,
		s.AtMostOnce, s.InputHash, rowcodec.NullText(s.Output), s.Error, s.ExecutionMS, s.Tokens, s.CostMicros,
		s.BaseExecutionMS, s.BaseTokens, s.BaseCostMicros, s.WasteExecutionMS, s.WasteTokens, s.WasteCostMicros,
		s.WaitReason, s.WaitSignal, s.ChildID, nullTS(s.WakeAt), s.Seq, ts(s.StartedAt), nullTS(s.FinishedAt))
	if err != nil {
		return fmt.Errorf("save step %s: %w", s.Key, mapErr(err))
	}
	return nil
}

// DeleteSteps deletes the running steps and those from fromSeq on.
func (x txRows) DeleteSteps(ctx context.Context, taskID string, fromSeq int) error {
	_, err := x.tx.Exec(ctx, `DELETE FROM task_steps WHERE task_id = $1
		AND (status = 'running' OR ($2 > 0 AND seq >= $2))`, taskID, fromSeq)
	return mapErr(err)
}

const signalColumns = `id, workspace_id, task_id, seq, name, data, idempotency_key, consumed_by, created_at`

func scanSignal(sc scanner) (store.Signal, error) {
	var (
		s    store.Signal
		data []byte
		idem *string
		at   time.Time
	)
	if err := sc.Scan(&s.ID, &s.WorkspaceID, &s.TaskID, &s.Seq, &s.Name, &data, &idem, &s.ConsumedBy, &at); err != nil {
		return store.Signal{}, err
	}
	s.Data, s.CreatedAt = data, at.UTC()
	if idem != nil {
		s.IdempotencyKey = *idem
	}
	return s, nil
}

// PendingSignal reads the oldest unconsumed signal name of the task.
func (x txRows) PendingSignal(ctx context.Context, taskID, name string) (store.Signal, bool, error) {
	s, err := scanSignal(x.tx.QueryRow(ctx, `SELECT `+signalColumns+` FROM task_signals
		WHERE task_id = $1 AND name = $2 AND consumed_by = '' ORDER BY seq LIMIT 1`, taskID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Signal{}, false, nil
	}
	if err != nil {
		return store.Signal{}, false, mapErr(err)
	}
	return s, true, nil
}

// InsertSignal inserts s with the task's next seq, unless its idempotency
// key is taken. The caller holds the task's lock, so seqs do not race.
func (x txRows) InsertSignal(ctx context.Context, s store.Signal) (store.Signal, bool, error) {
	if s.IdempotencyKey != "" {
		got, err := scanSignal(x.tx.QueryRow(ctx, `SELECT `+signalColumns+` FROM task_signals
			WHERE task_id = $1 AND idempotency_key = $2`, s.TaskID, s.IdempotencyKey))
		if err == nil {
			return got, false, nil
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return store.Signal{}, false, mapErr(err)
		}
	}
	got, err := scanSignal(x.tx.QueryRow(ctx, `INSERT INTO task_signals (`+signalColumns+`)
		VALUES ($1, $2, $3, (SELECT coalesce(max(seq), 0) + 1 FROM task_signals WHERE task_id = $3), $4, $5::text::json, $6, '', $7)
		RETURNING `+signalColumns,
		s.ID, s.WorkspaceID, s.TaskID, s.Name, string(s.Data), rowcodec.NullText(s.IdempotencyKey), ts(s.CreatedAt)))
	if err != nil {
		return store.Signal{}, false, fmt.Errorf("insert signal: %w", mapErr(err))
	}
	return got, true, nil
}

// ConsumeSignal marks signal id consumed by step.
func (x txRows) ConsumeSignal(ctx context.Context, id, step string) error {
	_, err := x.tx.Exec(ctx, `UPDATE task_signals SET consumed_by = $2 WHERE id = $1`, id, step)
	return mapErr(err)
}

// ChildrenCost sums the cost of the task's children.
func (x txRows) ChildrenCost(ctx context.Context, taskID string) (int64, error) {
	var n int64
	err := x.tx.QueryRow(ctx, `SELECT coalesce(sum(cost_micros), 0)::bigint FROM tasks WHERE parent_id = $1`, taskID).Scan(&n)
	return n, mapErr(err)
}

// SetTaskBudget writes the task's budget and priority.
func (x txRows) SetTaskBudget(ctx context.Context, id string, maxCost int64, priority int) error {
	_, err := x.tx.Exec(ctx, `UPDATE tasks SET max_cost_micros = $2, priority = $3 WHERE id = $1`, id, maxCost, priority)
	return mapErr(err)
}

// LockWakeable locks up to limit waiting tasks whose timer passed at now
// or whose awaited child has ended (a spawn's, or a join's whose end
// signal did not come: flow.StepTx), skipping tasks locked at that moment.
func (x txRows) LockWakeable(ctx context.Context, now time.Time, limit int) ([]flow.Row, error) {
	rows, err := x.tx.Query(ctx, `SELECT `+taskColumns+` FROM tasks t
		WHERE t.status = 'waiting' AND (t.wake_at <= $1 OR EXISTS (
			SELECT 1 FROM task_steps s JOIN tasks c ON c.id = s.child_id
			WHERE s.task_id = t.id AND s.status = 'waiting'
				AND c.status IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'terminated')
				AND (s.kind = 'spawn' OR s.kind = 'wait' AND NOT EXISTS (
					SELECT 1 FROM task_signals g WHERE g.task_id = t.id AND g.idempotency_key = 'child:' || c.id))))
		ORDER BY t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED`, ts(now), limit)
	return collect(rows, err, scanTaskRow)
}
