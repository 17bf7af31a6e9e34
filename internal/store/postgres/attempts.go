package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/lifecycle"
	"github.com/genericcorp/baton/pkg/api"
)

// expireBatch is how many expired leases one reaper transaction handles.
const expireBatch = 100

// fenced locks task id of workspaceID and, if attempt is its current
// running attempt, calls fn on the task and attempt and writes both back:
// with a state event carrying fn's message if event is true. Returns
// store.ErrNotFound if the task is absent, and the unchanged task with
// store.ErrStale if attempt is not current and running.
func (s *Store) fenced(ctx context.Context, workspaceID, id string, attempt int, at time.Time,
	fn func(t *store.Task, a *store.Attempt) (event bool, msg string, err error)) (store.Task, error) {
	var out store.Task
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		r, err := lockTask(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if !lifecycle.Current(r.t, attempt) {
			out = r.t
			return store.ErrStale
		}
		a, err := getAttempt(ctx, tx, id, attempt)
		if err != nil {
			return err
		}
		event, msg, err := fn(&r.t, &a)
		if err != nil {
			return err
		}
		if err := saveAttempt(ctx, tx, a); err != nil {
			return err
		}
		if event {
			err = commitState(ctx, tx, &r, msg, at)
		} else {
			err = saveTask(ctx, tx, r)
		}
		out = r.t
		return err
	})
	if err != nil && !errors.Is(err, store.ErrStale) {
		out = store.Task{}
	}
	return out, err
}

// Heartbeat extends the lease of the current running attempt to now+lease,
// accrues its execution since the last heartbeat and records usage totals
// (never lowering them), and returns the task. Returns store.ErrNotFound if
// the task is absent, and the task with store.ErrStale if attempt is not
// current and running (nothing changes).
func (s *Store) Heartbeat(ctx context.Context, workspaceID, id string, attempt int, usage *store.Usage, now time.Time, lease time.Duration) (store.Task, error) {
	t, err := s.fenced(ctx, workspaceID, id, attempt, now, func(t *store.Task, a *store.Attempt) (bool, string, error) {
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
func (s *Store) Complete(ctx context.Context, workspaceID, id string, attempt int, o store.Outcome) (store.Task, error) {
	t, err := s.fenced(ctx, workspaceID, id, attempt, o.Now, func(t *store.Task, a *store.Attempt) (bool, string, error) {
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
func (s *Store) EndTask(ctx context.Context, workspaceID, id string, attempt int, status, reason string, now time.Time) (store.Task, error) {
	t, err := s.fenced(ctx, workspaceID, id, attempt, now, func(t *store.Task, a *store.Attempt) (bool, string, error) {
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
func (s *Store) CancelTask(ctx context.Context, workspaceID, id, reason string, now time.Time) (store.Task, error) {
	var out store.Task
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		r, err := lockTask(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if api.IsTerminal(r.t.Status) {
			out = r.t
			return fmt.Errorf("task is %s: %w", r.t.Status, store.ErrConflict)
		}
		var a *store.Attempt
		if r.t.Status == api.TaskRunning {
			cur, err := getAttempt(ctx, tx, id, r.t.Attempt)
			if err != nil {
				return err
			}
			a = &cur
		}
		msg := lifecycle.Cancel(&r.t, a, reason, now)
		if a != nil {
			if err := saveAttempt(ctx, tx, *a); err != nil {
				return err
			}
		}
		if err := commitState(ctx, tx, &r, msg, now); err != nil {
			return err
		}
		out = r.t
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

// AppendLogs stores lines (made valid UTF-8 without NULs) of the current
// running attempt as log events at now. Returns store.ErrNotFound if the
// task is absent, store.ErrStale if attempt is not current and running.
func (s *Store) AppendLogs(ctx context.Context, workspaceID, id string, attempt int, lines []string, now time.Time) error {
	clean := make([]string, len(lines))
	for i, l := range lines {
		clean[i] = lifecycle.Clean(l)
	}
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		r, err := lockTask(ctx, tx, workspaceID, id)
		if err != nil {
			return err
		}
		if !lifecycle.Current(r.t, attempt) {
			return store.ErrStale
		}
		if len(clean) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE tasks SET event_seq = $2 WHERE id = $1`, id, r.seq+int64(len(clean))); err != nil {
			return fmt.Errorf("update task: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO task_events (`+eventColumns+`)
			SELECT $1, $2 + l.n, $3, $4, '', $5, l.line, $6
			FROM unnest($7::text[]) WITH ORDINALITY AS l(line, n)`,
			id, r.seq, workspaceID, api.EventLog, attempt, ts(now), clean)
		if err != nil {
			return fmt.Errorf("insert log events: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append logs of task %s attempt %d: %w", id, attempt, err)
	}
	return nil
}

// ExpireLeases handles every running task whose lease ended before now, of
// every workspace (it is the reaper's, not a tenant's, call): the attempt
// expires, accruing nothing past its last heartbeat, and the task is queued
// again at now+backoff(attempt) with reason "lease expired" while attempts
// remain, else it fails. It works in batches, one transaction each, and
// skips tasks locked at that moment (a heartbeat or completion in flight
// decides them; another replica's reaper may be on them). It returns the
// tasks changed, also when a later batch fails.
func (s *Store) ExpireLeases(ctx context.Context, now time.Time, backoff func(attempt int) time.Duration) ([]store.Task, error) {
	var out []store.Task
	for {
		var batch []store.Task
		err := s.withTx(ctx, func(tx pgx.Tx) error {
			batch = batch[:0]
			rows, err := tx.Query(ctx, `SELECT `+taskColumns+` FROM tasks
				WHERE status = 'running' AND lease_expires_at < $1
				ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, ts(now), expireBatch)
			expired, err := collect(rows, err, scanTaskRow)
			if err != nil {
				return fmt.Errorf("find expired leases: %w", err)
			}
			for _, r := range expired {
				a, err := getAttempt(ctx, tx, r.t.ID, r.t.Attempt)
				if err != nil {
					return fmt.Errorf("task %s: %w", r.t.ID, err)
				}
				msg := lifecycle.Expire(&r.t, &a, now, backoff)
				if err := saveAttempt(ctx, tx, a); err != nil {
					return fmt.Errorf("task %s: %w", r.t.ID, err)
				}
				if err := commitState(ctx, tx, &r, msg, now); err != nil {
					return fmt.Errorf("task %s: %w", r.t.ID, err)
				}
				batch = append(batch, r.t)
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("expire leases: %w", err)
		}
		out = append(out, batch...)
		if len(batch) < expireBatch {
			return out, nil
		}
	}
}
