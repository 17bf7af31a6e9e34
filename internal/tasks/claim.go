package tasks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// slots is how many more tasks ws may start (store.ClaimParams.Slots).
func (s *Service) slots(ws store.Workspace, running int, used store.Consumed) int {
	return metering.Slots(ws, s.cfg.Limits(ws), running, used)
}

// Claim leases up to max tasks for workerID from queues of workspaceID
// (store.AnyWorkspace for a shared worker), waiting up to wait for the
// first ones. It returns the tasks claimed: none after the wait, or when
// ctx ends while waiting (ctx's error when it ended during a store call).
func (s *Service) Claim(ctx context.Context, workspaceID string, queues []string, workerID string, max int, wait time.Duration) ([]store.Task, error) {
	topics := make([]string, len(queues))
	for i, q := range queues {
		topics[i] = QueueTopic(workspaceID, q)
	}
	key := claimKey(workspaceID, queues)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		pollIn := s.cfg.Poll
		var (
			got              []store.Task
			capped           bool
			err              error
			woken, slotFreed <-chan struct{}
			release          = func() {}
		)
		if mark, left, ok := s.claimers.stillDrained(key); ok && wait > 0 {
			// The last claim of these queues found less than it asked
			// for, and nothing has been made claimable in them since:
			// wait on the mark's subscription without a store call (a
			// worker's claim for its free slots right after a claim that
			// emptied the queue). Tasks that come due by their run_at make
			// no wake-up, so the wait ends when the mark does, a poll
			// after the claim that made it.
			woken, pollIn = mark, left
		} else {
			// Subscribed before trying, so no wake-up between the try and
			// the wait is missed; the slot subscription is kept only if
			// the try found the workspace unable to start more.
			changed, done := s.cfg.Notifier.Subscribe(topics...)
			slots, doneSlots := s.cfg.Notifier.Subscribe(SlotTopic(workspaceID))
			got, capped, err = s.claimTogether(ctx, workspaceID, queues, workerID, max)
			if errors.Is(err, store.ErrNotFound) {
				err = nil
			}
			woken, release = changed, done
			switch {
			case capped:
				slotFreed, release = slots, func() { done(); doneSlots() }
			case err == nil && len(got) < max && s.claimers.markDrained(key, changed, done, s.cfg.Poll):
				doneSlots()
				release = func() {} // the mark owns the subscription now
			default:
				doneSlots()
			}
		}
		if len(got) > 0 {
			release()
			if err != nil {
				s.cfg.Log.Warn("claim: returning a partial batch", "err", err)
			}
			s.cfg.Hooks.Transition(api.TaskRunning, len(got))
			s.changed(ctx, got...)
			return got, nil
		}
		if err != nil {
			release()
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, ctxErr // the caller left: not the store's fault
			}
			return nil, fmt.Errorf("claim: %w", err)
		}
		if wait <= 0 {
			release()
			return nil, nil
		}
		poll := time.NewTimer(pollIn)
		var over bool
		select {
		case <-ctx.Done():
			over = true
		case <-deadline.C:
			over = true
		case <-woken:
		case <-slotFreed:
		case <-poll.C:
		}
		poll.Stop()
		release()
		if over {
			return nil, nil
		}
	}
}

// Reap requeues or fails every task whose lease expired, queues the waiting
// tasks whose timer passed or child ended, and wakes their followers and
// claimers. It returns how many tasks it changed.
func (s *Service) Reap(ctx context.Context) (int, error) {
	tasks, err := s.cfg.Store.ExpireLeases(ctx, s.now(), s.cfg.Backoff.Delay)
	for _, t := range tasks {
		s.cfg.Log.Info("lease expired", "task_id", t.ID, "workspace_id", t.WorkspaceID, "attempt", t.Attempt, "status", t.Status)
		s.cfg.Hooks.Expired(t)
		s.cfg.Hooks.Transition(t.Status, 1)
	}
	if len(tasks) > 0 {
		s.changed(ctx, tasks...)
		s.ended(ctx, tasks...)
	}
	if err != nil {
		return len(tasks), fmt.Errorf("reap expired leases: %w", err)
	}
	woken, err := s.wakeDue(ctx)
	if err != nil {
		return len(tasks) + woken, fmt.Errorf("wake waiting tasks: %w", err)
	}
	return len(tasks) + woken, nil
}

// RunReaper calls Reap every interval until ctx is done.
func (s *Service) RunReaper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Reap(ctx); err != nil && ctx.Err() == nil {
				s.cfg.Log.Error("reaper", "err", err)
			}
		}
	}
}

// seconds is n seconds as a Duration, saturating instead of overflowing.
func seconds(n int64) time.Duration {
	if n > int64(math.MaxInt64/time.Second) {
		return math.MaxInt64
	}
	return time.Duration(n) * time.Second
}

// EffectiveTimeout is how long one attempt of t may run: its own timeout,
// capped by the tier's max duration (which also applies when it has none).
// 0 means no limit (neither is set). Huge values saturate, never wrap.
func EffectiveTimeout(t store.Task, l api.Limits) time.Duration {
	limit := seconds(l.MaxTaskDurationSeconds)
	if t.TimeoutSeconds > 0 {
		own := seconds(t.TimeoutSeconds)
		if limit <= 0 || own < limit {
			return own
		}
	}
	return max(limit, 0)
}
