package sqlite

import (
	"context"
	"fmt"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
)

// GetTask returns task id of workspaceID, or store.ErrNotFound.
func (s *Store) GetTask(ctx context.Context, workspaceID, id string) (store.Task, error) {
	row := s.reader.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = ?1 AND id = ?2`, workspaceID, id)
	t, err := scanTask(row)
	if err != nil {
		return store.Task{}, fmt.Errorf("get task %s: %w", id, mapErr(err))
	}
	return t, nil
}

// ChildrenCost sums the cost of the tasks that task id spawned.
func (s *Store) ChildrenCost(ctx context.Context, workspaceID, id string) (int64, error) {
	var n int64
	if err := s.reader.QueryRowContext(ctx, `SELECT coalesce(sum(cost_micros), 0) FROM tasks
		WHERE workspace_id = ?1 AND parent_id = ?2 AND parent_id <> ''`, workspaceID, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("children cost of task %s: %w", id, mapErr(err))
	}
	return n, nil
}

// ListTasks returns one page of workspaceID's tasks matching f, newest
// first: ids below p.After when set, at most p.Limit (never nil).
func (s *Store) ListTasks(ctx context.Context, workspaceID string, f store.TaskFilter, p store.Page) ([]store.Task, error) {
	q := `SELECT ` + taskColumns + ` FROM tasks WHERE workspace_id = ?1`
	args := []any{workspaceID}
	and := func(cond string, v ...any) {
		q += " AND " + cond
		args = append(args, v...)
	}
	if p.After != "" {
		and("id < ?", p.After)
	}
	if f.Status != "" {
		and("status = ?", f.Status)
	}
	if f.Queue != "" {
		and("queue = ?", f.Queue)
	}
	for _, l := range f.Labels {
		// json_each compares the key as a value: no JSON path is built,
		// so keys with dots, quotes or brackets are safe.
		and(`EXISTS (SELECT 1 FROM json_each(tasks.labels) l
			WHERE l.key = ? AND l.type = 'text' AND l.value = ?)`, l.Key, l.Value)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, rowcodec.PageLimit(p))
	rows, err := s.reader.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanTask)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// CountTasks counts workspaceID's tasks in status (all of them when status
// is empty).
func (s *Store) CountTasks(ctx context.Context, workspaceID, status string) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT `+sqlstore.CountAny("?1", "?2"), workspaceID, status).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count tasks: %w", err)
	}
	return n, nil
}

// ListAttempts returns the attempts of task id in order (never nil), or
// store.ErrNotFound if workspaceID has no such task.
func (s *Store) ListAttempts(ctx context.Context, workspaceID, id string) ([]store.Attempt, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+attemptColumns+` FROM task_attempts
		WHERE workspace_id = ?1 AND task_id = ?2 ORDER BY number`, workspaceID, id)
	out, err := collect(rows, err, scanAttempt)
	if err == nil && len(out) == 0 {
		err = s.taskExists(ctx, workspaceID, id)
	}
	if err != nil {
		return nil, fmt.Errorf("list attempts of task %s: %w", id, err)
	}
	return out, nil
}

// ListEvents returns the events of task id with a seq above afterSeq, in
// order, at most limit (100 if not positive; never nil), or
// store.ErrNotFound if workspaceID has no such task.
func (s *Store) ListEvents(ctx context.Context, workspaceID, id string, afterSeq int64, limit int) ([]store.TaskEvent, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+eventColumns+` FROM task_events
		WHERE workspace_id = ?1 AND task_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4`,
		workspaceID, id, afterSeq, rowcodec.PageLimit(store.Page{Limit: limit}))
	out, err := collect(rows, err, scanEvent)
	if err == nil && len(out) == 0 {
		err = s.taskExists(ctx, workspaceID, id)
	}
	if err != nil {
		return nil, fmt.Errorf("list events of task %s: %w", id, err)
	}
	return out, nil
}

// taskExists returns store.ErrNotFound unless workspaceID has task id.
func (s *Store) taskExists(ctx context.Context, workspaceID, id string) error {
	var one int
	err := s.reader.QueryRowContext(ctx, `SELECT 1 FROM tasks WHERE workspace_id = ?1 AND id = ?2`, workspaceID, id).Scan(&one)
	return mapErr(err)
}
