package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// QuotaError refuses a submit: a monthly quota, the spend cap or the
// queued-task cap is used up.
type QuotaError struct {
	Quota      string        // api.Quota*
	Detail     string        // "monthly task executions used up (1000/1000)"
	RetryAfter time.Duration // until the quota resets; 0 for the queued cap
}

func (e *QuotaError) Error() string { return "quota exceeded: " + e.Detail }

// Submit queues t, a new task of ws, after admission: inside the insert's
// transaction, under a lock on the workspace, metering.Admit decides from
// the workspace's queued count and its use of the period. A replayed
// Idempotency-Key is answered with its task (created false) without asking.
// Errors: *QuotaError; store.ErrConflict (the key was used with other
// parameters); store.ErrNotFound (no such workspace).
func (s *Service) Submit(ctx context.Context, ws store.Workspace, t store.Task) (store.Task, bool, error) {
	l := s.cfg.Limits(ws)
	var refused *QuotaError
	admit := func(queued int, used store.Consumed) error {
		q, retry := metering.Admit(l, queued, used, t.CreatedAt)
		if q == "" {
			return nil
		}
		refused = &QuotaError{Quota: q, Detail: metering.Describe(q, l, used), RetryAfter: retry}
		return refused
	}
	got, created, err := s.createTogether(ctx, t, admit)
	var qe *QuotaError
	if errors.As(err, &qe) {
		s.cfg.Hooks.QuotaRefused(qe.Quota)
		return store.Task{}, false, qe
	}
	if err != nil {
		return got, false, fmt.Errorf("submit: %w", err)
	}
	if created {
		s.cfg.Hooks.Transition(api.TaskQueued, 1)
		s.changed(ctx, got)
	}
	return got, created, nil
}

// HoldReason says why ws's queued tasks cannot start now ("" when they
// can, up to the concurrency cap): a suspended workspace or a used-up
// monthly quota.
func (s *Service) HoldReason(ctx context.Context, ws store.Workspace) (string, error) {
	if ws.Status != api.WorkspaceActive {
		return "held: workspace " + ws.Status, nil
	}
	l := s.cfg.Limits(ws)
	used, err := s.Consumed(ctx, ws.ID)
	if err != nil {
		return "", err
	}
	if ex := metering.Exhausted(l, used); len(ex) > 0 {
		return "held: " + metering.Describe(ex[0], l, used), nil
	}
	return "", nil
}

// Consumed reads workspace id's use of its enforced quotas in the current
// billing period.
func (s *Service) Consumed(ctx context.Context, id string) (store.Consumed, error) {
	totals, err := s.cfg.Store.UsageTotals(ctx, id, s.now())
	if err != nil {
		return store.Consumed{}, fmt.Errorf("read usage of workspace %s: %w", id, err)
	}
	return metering.ConsumedOf(totals), nil
}

// MarkHeld shows held tasks as held: the status reason of each queued task
// of tasks becomes reason when reason is set (see HoldReason).
func MarkHeld(tasks []store.Task, reason string) {
	for i := range tasks {
		if tasks[i].Status == api.TaskQueued {
			tasks[i].StatusReason = cmp.Or(reason, tasks[i].StatusReason)
		}
	}
}
