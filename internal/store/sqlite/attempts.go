package sqlite

import (
	"context"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// The fenced calls, cancellation and lease expiry are the shared flows
// (package flow) run on txRows.

// Heartbeat runs flow.Runner.Heartbeat.
func (s *Store) Heartbeat(ctx context.Context, workspaceID, id string, attempt int, usage *store.Usage, now time.Time, lease time.Duration) (store.Task, error) {
	return s.flows().Heartbeat(ctx, workspaceID, id, attempt, usage, now, lease)
}

// Complete runs flow.Runner.Complete.
func (s *Store) Complete(ctx context.Context, workspaceID, id string, attempt int, o store.Outcome) (store.Task, error) {
	return s.flows().Complete(ctx, workspaceID, id, attempt, o)
}

// EndTask runs flow.Runner.EndTask.
func (s *Store) EndTask(ctx context.Context, workspaceID, id string, attempt int, status, reason string, now time.Time) (store.Task, error) {
	return s.flows().EndTask(ctx, workspaceID, id, attempt, status, reason, now)
}

// CancelTask runs flow.Runner.CancelTask.
func (s *Store) CancelTask(ctx context.Context, workspaceID, id, reason string, now time.Time) (store.Task, error) {
	return s.flows().CancelTask(ctx, workspaceID, id, reason, now)
}

// AppendLogs runs flow.Runner.AppendLogs.
func (s *Store) AppendLogs(ctx context.Context, workspaceID, id string, attempt int, lines []string, now time.Time) error {
	return s.flows().AppendLogs(ctx, workspaceID, id, attempt, lines, now)
}

// ExpireLeases runs flow.Runner.ExpireLeases. Batches take turns with the
// other writers on the one writer connection.
func (s *Store) ExpireLeases(ctx context.Context, now time.Time, backoff func(attempt int) time.Duration) ([]store.Task, error) {
	return s.flows().ExpireLeases(ctx, now, backoff)
}
