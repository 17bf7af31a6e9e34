package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Store is what the queue needs of the store.
type Store interface {
	ClaimTask(ctx context.Context, p store.ClaimParams) (store.Task, error)
	ExpireLeases(ctx context.Context, now time.Time, backoff func(attempt int) time.Duration) ([]store.Task, error)
}

// Config tunes the queue.
type Config struct {
	Store    Store
	Notifier Notifier
	// Limits returns a workspace's effective limits.
	Limits func(ws store.Workspace) api.Limits
	// Lease is how long a claim or heartbeat holds a task (default 30 s).
	Lease time.Duration
	// HeartbeatInterval is what workers are told to use (default 5 s).
	HeartbeatInterval time.Duration
	// Poll bounds how long a claimer sleeps without a wake-up (default 1 s),
	// so retries coming due and other replicas' submits are seen even
	// without a notification.
	Poll    time.Duration
	Backoff Backoff
	Now     func() time.Time
	Log     *slog.Logger
	// OnExpired, when set, is called by Reap for each task whose lease
	// expired (requeued or failed): the server counts them in its metrics,
	// which keeps this package free of them.
	OnExpired func(t store.Task)
}

// Queue claims, leases and reaps tasks.
type Queue struct{ cfg Config }

// New returns a Queue with defaults filled in.
func New(cfg Config) *Queue {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notifier == nil {
		cfg.Notifier = NewLocal()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Queue{cfg: cfg}
}

// Lease is the lease length.
func (q *Queue) Lease() time.Duration { return q.cfg.Lease }

// HeartbeatInterval is the interval workers are told to heartbeat at.
func (q *Queue) HeartbeatInterval() time.Duration { return q.cfg.HeartbeatInterval }

// Backoff returns the retry delay after attempt.
func (q *Queue) Backoff(attempt int) time.Duration { return q.cfg.Backoff.Delay(attempt) }

// Notify wakes claimers and followers after a change to topic.
func (q *Queue) Notify(ctx context.Context, topic string) { q.cfg.Notifier.Notify(ctx, topic) }

// Changed returns a channel closed at the next notification.
func (q *Queue) Changed() <-chan struct{} { return q.cfg.Notifier.Changed() }

// Eligible reports whether ws may start one more task with running
// already running and used consumed this billing period: active, under its
// concurrency cap, and with none of its monthly quotas (executions,
// execution seconds, spend) used up. A workspace that is not eligible
// keeps its queued tasks: they are held until the quota resets or is
// raised.
func (q *Queue) Eligible(ws store.Workspace, running int, used store.Consumed) bool {
	if ws.Status != api.WorkspaceActive {
		return false
	}
	l := q.cfg.Limits(ws)
	return int64(running) < l.MaxConcurrentTasks && len(metering.Exhausted(l, used)) == 0
}

// Claim leases up to max tasks for workerID from queues of workspaceID
// (store.AnyWorkspace for a shared worker), waiting up to wait for the
// first one. It returns the tasks claimed (none after the wait).
func (q *Queue) Claim(ctx context.Context, workspaceID string, queues []string, workerID string, max int, wait time.Duration) ([]store.Task, error) {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		changed := q.cfg.Notifier.Changed() // before trying, so no wake-up is missed
		var got []store.Task
		for len(got) < max {
			t, err := q.cfg.Store.ClaimTask(ctx, store.ClaimParams{WorkspaceID: workspaceID, Queues: queues, WorkerID: workerID,
				Now: q.cfg.Now().UTC(), Lease: q.cfg.Lease, Eligible: q.Eligible})
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if err != nil {
				if len(got) > 0 {
					q.cfg.Log.Warn("claim: returning partial batch", "err", err)
					return got, nil
				}
				return nil, fmt.Errorf("claim: %w", err)
			}
			got = append(got, t)
		}
		if len(got) > 0 || wait <= 0 {
			return got, nil
		}
		poll := time.NewTimer(q.cfg.Poll)
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, nil
		case <-deadline.C:
			poll.Stop()
			return nil, nil
		case <-changed:
		case <-poll.C:
		}
		poll.Stop()
	}
}

// Reap requeues or fails every task whose lease expired, and wakes
// claimers when any was requeued. It returns how many tasks it changed.
func (q *Queue) Reap(ctx context.Context) (int, error) {
	tasks, err := q.cfg.Store.ExpireLeases(ctx, q.cfg.Now().UTC(), q.cfg.Backoff.Delay)
	if err != nil {
		return 0, fmt.Errorf("reap expired leases: %w", err)
	}
	for _, t := range tasks {
		q.cfg.Log.Info("lease expired", "task_id", t.ID, "workspace_id", t.WorkspaceID, "attempt", t.Attempt, "status", t.Status)
		if q.cfg.OnExpired != nil {
			q.cfg.OnExpired(t)
		}
		q.Notify(ctx, t.ID)
	}
	return len(tasks), nil
}

// RunReaper calls Reap every interval until ctx is done.
func (q *Queue) RunReaper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := q.Reap(ctx); err != nil && ctx.Err() == nil {
				q.cfg.Log.Error("reaper", "err", err)
			}
		}
	}
}

// EffectiveTimeout is how long one attempt of t may run: its own timeout,
// capped by the tier's max duration (which also applies when it has none).
// 0 means no limit (neither is set).
func EffectiveTimeout(t store.Task, l api.Limits) time.Duration {
	max := time.Duration(l.MaxTaskDurationSeconds) * time.Second
	if t.TimeoutSeconds > 0 {
		own := time.Duration(t.TimeoutSeconds) * time.Second
		if max <= 0 || own < max {
			return own
		}
	}
	return max
}
