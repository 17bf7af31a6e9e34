package tasks

import (
	"context"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
)

// Task budget alerts (docs/steps.md "Budgets that pause"): when a step's
// begin or end, a heartbeat or an attempt's end has grown a task's cost,
// the task's spend — its own cost and its children's — is compared with
// its budget, and so is its parent's (whose budget counts its children).
// At 80 % and 100 % a threshold alert of metric task_budget is raised,
// once per threshold per task: the store deduplicates by (metric,
// threshold, period = the task's id), and each replica remembers the
// thresholds it raised so that a task above 80 % does not ask the store
// again at every heartbeat.

// budgetMemoSize bounds the tasks whose raised thresholds a replica
// remembers; a task forgotten asks the store again (which dedups).
const budgetMemoSize = 4096

func newBudgetMemo() *lru.Cache[string, int] {
	c, err := lru.New[string, int](budgetMemoSize)
	if err != nil {
		panic(err) // only for a size ≤ 0
	}
	return c
}

// budgetAlerts raises the budget alerts t's cost may have brought about,
// for t and its parent. It never fails the caller: a store error is
// logged, and the next cost change tries again.
func (s *Service) budgetAlerts(ctx context.Context, t store.Task) {
	ctx = context.WithoutCancel(ctx)
	if t.MaxCostMicros > 0 {
		s.checkBudget(ctx, t)
	}
	if t.ParentID == "" {
		return
	}
	p, err := s.cfg.Store.GetTask(ctx, t.WorkspaceID, t.ParentID)
	if err != nil {
		s.cfg.Log.Warn("budget alerts: read parent", "task_id", t.ID, "parent_id", t.ParentID, "err", err)
		return
	}
	if p.MaxCostMicros > 0 {
		s.checkBudget(ctx, p)
	}
}

// checkBudget raises t's budget alerts for the thresholds its spend has
// reached and this replica has not raised yet.
func (s *Service) checkBudget(ctx context.Context, t store.Task) {
	done, _ := s.budgetRaised.Get(t.ID)
	if done >= metering.Thresholds[len(metering.Thresholds)-1] {
		return
	}
	children, err := s.cfg.Store.ChildrenCost(ctx, t.WorkspaceID, t.ID)
	if err != nil {
		s.cfg.Log.Warn("budget alerts: children's cost", "task_id", t.ID, "err", err)
		return
	}
	for _, a := range metering.TaskBudgetAlerts(t, t.CostMicros+children, s.now()) {
		if a.Threshold <= done {
			continue
		}
		raised, err := s.cfg.Store.RaiseAlert(ctx, a)
		if err != nil {
			s.cfg.Log.Warn("budget alerts: raise", "task_id", t.ID, "threshold", a.Threshold, "err", err)
			return
		}
		s.budgetRaised.Add(t.ID, a.Threshold)
		if raised {
			s.cfg.Hooks.AlertRaised(a)
		}
	}
}
