package storetest

import (
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// testChildrenCost: a task's children's cost is the sum of the cost of
// the tasks whose parent it is, in its workspace only; 0 without children
// and for an absent task.
func testChildrenCost(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	other, _ := createWorkspace(t, s, "other")
	parent := createTask(t, s, newTask(ws.ID))
	spend := func(wsID string, parentID string, cost int64) {
		c := newTask(wsID)
		c.ParentID = parentID
		createTask(t, s, c)
		got := claim(t, s, params(wsID, t0))
		_, err := s.Heartbeat(ctx, wsID, got.ID, got.Attempt, &store.Usage{CostMicros: cost}, t0.Add(time.Second), lease)
		must(t, err, "Heartbeat")
	}
	claim(t, s, params(ws.ID, t0)) // the parent runs: its own cost is not its children's
	spend(ws.ID, parent.ID, 30_000)
	spend(ws.ID, parent.ID, 12_000)
	spend(ws.ID, "", 1_000_000)
	spend(other.ID, parent.ID, 5_000_000) // another workspace's task naming the id
	for id, want := range map[string]int64{parent.ID: 42_000, "task_absent": 0} {
		got, err := s.ChildrenCost(ctx, ws.ID, id)
		must(t, err, "ChildrenCost")
		if got != want {
			t.Errorf("ChildrenCost(%s) = %d, want %d", id, got, want)
		}
	}
	if got, err := s.ChildrenCost(ctx, other.ID, parent.ID); err != nil || got != 5_000_000 {
		t.Errorf("ChildrenCost in the other workspace = %d, %v; want 5000000", got, err)
	}
}
