package tasks

import (
	"context"
	"errors"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Durable steps (docs/steps.md): the step, wait and signal rules, next to
// claim and heartbeat. The store keeps the journal and decides each call in
// one transaction; the service adds the budget question (the task's
// max_cost_micros with its children, and the workspace's spend cap), the
// child's task, and the wake-ups.

// ReasonAttemptSuspended is the heartbeat's cancel reason, and a step
// call's stop reason, for an attempt that ended because its task went
// waiting (a sleep, wait, spawn, budget or operator): the attempt ended as
// suspended. (ReasonSuspended is the workspace's suspension.)
const ReasonAttemptSuspended = store.AttemptSuspended

// StepStore is what the service needs of the store for durable steps.
type StepStore interface {
	store.StepStore
}

// budget is the store's budget question at a run step's begin.
func (s *Service) budget(ws store.Workspace) func(t store.Task, children int64, used store.Consumed) (string, *time.Time) {
	l := s.cfg.Limits(ws)
	return func(t store.Task, children int64, used store.Consumed) (string, *time.Time) {
		if t.MaxCostMicros > 0 && t.CostMicros+children >= t.MaxCostMicros {
			return "task budget used up", nil
		}
		if q := metering.Terminate(l, used); q != "" {
			next := store.UsagePeriod(s.now()).AddDate(0, 1, 0)
			return metering.Describe(q, l, used), &next
		}
		return "", nil
	}
}

// stopped answers a step call of an attempt that is no longer current: stop
// (with why) when the attempt ended by the task's transition, else
// store.ErrStale.
func stopped(t store.Task, attempt int) (string, bool) {
	if t.ID == "" || t.Attempt != attempt {
		return "", false
	}
	switch {
	case t.Status == api.TaskWaiting:
		return ReasonAttemptSuspended, true
	case t.Status == api.TaskTerminated:
		return ReasonQuota, true
	case api.IsTerminal(t.Status):
		return t.Status, true
	}
	return "", false
}

// BeginStep begins or replays step key of attempt req.Attempt of task id
// of ws. Errors: store.ErrNotFound; store.ErrStale (another attempt holds
// the task); store.ErrConflict (the journal disagrees: another kind, input
// or a step running in this attempt).
func (s *Service) BeginStep(ctx context.Context, ws store.Workspace, id, key string, req api.StepBeginRequest) (api.StepBeginResponse, error) {
	now := s.now()
	b := store.StepBegin{Key: key, Attempt: req.Attempt, Kind: req.Kind, AtMostOnce: req.AtMostOnce,
		InputHash: req.InputHash, Signal: req.Signal, Timeout: seconds(req.TimeoutSeconds),
		SpawnWait: req.Wait, Usage: usageOf(req.Usage), Now: now, Lease: s.cfg.Lease, Budget: s.budget(ws)}
	if req.Until != nil {
		b.Until = *req.Until
	}
	if req.Kind == api.StepSpawn {
		q := req.Queue
		if q == "" {
			q = api.DefaultQueue
		}
		b.Child = &store.Task{ID: ids.NewAt(ids.Task, now), Queue: q, Input: req.Input, MaxAttempts: 1,
			StatusReason: "spawned by " + id + " step " + key}
	}
	got, err := s.cfg.Store.BeginStep(ctx, ws.ID, id, b)
	if errors.Is(err, store.ErrStale) {
		if reason, ok := stopped(got.Task, req.Attempt); ok {
			return api.StepBeginResponse{Action: api.ActionStop, Key: key, Reason: reason}, nil
		}
		return api.StepBeginResponse{}, err
	} else if err != nil {
		return api.StepBeginResponse{}, err
	}
	if req.Usage != nil {
		s.budgetAlerts(ctx, got.Task)
	}
	if got.Child.ID != "" {
		s.cfg.Hooks.Transition(api.TaskQueued, 1)
		s.changed(ctx, got.Child)
	}
	if got.Action == api.ActionSuspend {
		s.cfg.Hooks.Transition(api.TaskWaiting, 1)
		s.changed(ctx, got.Task) // a slot is free
	} else {
		s.cfg.Notifier.Notify(context.WithoutCancel(ctx), TaskTopic(id))
	}
	return api.StepBeginResponse{Action: got.Action, Key: got.Key, Output: got.Output, Error: got.Error,
		PreviousOutcome: got.PreviousOutcome, IdempotencyKey: got.IdempotencyKey, Reason: got.Reason}, nil
}

// EndStep records the outcome of running step key of attempt
// req.Attempt. Errors as BeginStep; store.ErrNotFound also when the step
// is not in the journal.
func (s *Service) EndStep(ctx context.Context, ws store.Workspace, id, key string, req api.StepEndRequest) (api.StepEndResponse, error) {
	msg := req.Error
	if len(msg) > MaxErrorBytes {
		msg = msg[:MaxErrorBytes]
	}
	t, err := s.cfg.Store.EndStep(ctx, ws.ID, id, store.StepEnd{Key: key, Attempt: req.Attempt, Output: req.Output,
		Error: msg, Failed: req.Error != "", Usage: usageOf(req.Usage), Now: s.now(), Lease: s.cfg.Lease})
	if errors.Is(err, store.ErrStale) {
		if reason, ok := stopped(t, req.Attempt); ok {
			return api.StepEndResponse{Action: api.ActionStop, Reason: reason}, nil
		}
		return api.StepEndResponse{}, err
	} else if err != nil {
		return api.StepEndResponse{}, err
	}
	if req.Usage != nil {
		s.budgetAlerts(ctx, t)
	}
	s.cfg.Notifier.Notify(context.WithoutCancel(ctx), TaskTopic(id), WorkspaceTopic(ws.ID))
	return api.StepEndResponse{Action: api.ActionDone}, nil
}

func usageOf(u *api.UsageReport) *store.Usage {
	if u == nil {
		return nil
	}
	return &store.Usage{Tokens: max(u.Tokens, 0), CostMicros: max(u.CostMicros, 0)}
}

// ListSteps returns task id's journal. Errors: store.ErrNotFound.
func (s *Service) ListSteps(ctx context.Context, workspaceID, id string) ([]store.Step, error) {
	return s.cfg.Store.ListSteps(ctx, workspaceID, id)
}

// Signal sends signal sig to task id (kept until a wait takes it, once
// per idempotency key) and wakes the task if it waits for it. Errors:
// store.ErrNotFound; store.ErrConflict when the task is terminal.
func (s *Service) Signal(ctx context.Context, workspaceID, id string, sig store.Signal) (store.Signal, bool, error) {
	sig.ID, sig.CreatedAt = ids.New("sig"), s.now()
	got, created, t, err := s.cfg.Store.SendSignal(ctx, workspaceID, id, sig)
	if err != nil {
		return got, false, err
	}
	if t.Status == api.TaskQueued {
		s.cfg.Hooks.Transition(api.TaskQueued, 1)
	}
	s.changed(ctx, t)
	return got, created, nil
}

// UpdateTask sets task id's budget and/or priority; a task waiting for
// budget is queued again. Errors: store.ErrNotFound; store.ErrConflict
// with the task when it is terminal.
func (s *Service) UpdateTask(ctx context.Context, workspaceID, id string, maxCost *int64, priority *int) (store.Task, error) {
	t, err := s.cfg.Store.UpdateTask(ctx, workspaceID, id, maxCost, priority, s.now())
	if err != nil {
		return t, err
	}
	if maxCost != nil {
		s.budgetAlerts(ctx, t) // a lowered budget may be crossed already
	}
	s.changed(ctx, t)
	return t, nil
}

// RetryTask queues a finished (or operator-waiting) task again keeping its
// journal; the steps from fromStep on run again. Errors: store.ErrNotFound
// (the task, or fromStep in its journal); store.ErrConflict with the task
// when it is not finished.
func (s *Service) RetryTask(ctx context.Context, workspaceID, id, fromStep string) (store.Task, error) {
	t, err := s.cfg.Store.RetryTask(ctx, workspaceID, id, fromStep, s.now())
	if err != nil {
		return t, err
	}
	s.cfg.Hooks.Transition(api.TaskQueued, 1)
	s.changed(ctx, t)
	return t, nil
}

// ended tells the parent of each task of ts that ended, however it ended:
// the store delivers the signal api.ChildSignal(child) to it once (the
// join of a fan-out; docs/steps.md) and wakes it if it waits for that
// signal or, on a spawn --wait, for the child. A parent that has ended
// ignores it.
func (s *Service) ended(ctx context.Context, ts ...store.Task) {
	for _, t := range ts {
		if t.ParentID == "" || !api.IsTerminal(t.Status) {
			continue
		}
		p, woken, err := s.cfg.Store.WakeParent(context.WithoutCancel(ctx), t, s.now())
		if err != nil {
			// The reaper's WakeDue wakes it later.
			s.cfg.Log.Warn("wake parent", "task_id", t.ID, "parent_id", t.ParentID, "err", err)
			continue
		}
		if woken {
			s.cfg.Hooks.Transition(api.TaskQueued, 1)
			s.changed(ctx, p)
		}
	}
}

// wakeDue queues the waiting tasks whose timer passed or child ended.
func (s *Service) wakeDue(ctx context.Context) (int, error) {
	tasks, err := s.cfg.Store.WakeDue(ctx, s.now())
	if len(tasks) > 0 {
		s.cfg.Hooks.Transition(api.TaskQueued, len(tasks))
		s.changed(ctx, tasks...)
	}
	return len(tasks), err
}
