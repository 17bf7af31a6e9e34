package tasks_test

import (
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// TestPruneKeepsRetentionDays: Prune deletes events older than the
// workspace's event_retention_days and keeps newer ones; 0 keeps all.
func TestPruneKeepsRetentionDays(t *testing.T) {
	b := setup(t)
	b.mustSubmit(t, 3) // 3 state events and no usage, at t0
	b.clock.Advance(10 * 24 * time.Hour)
	b.mustSubmit(t, 2) // 2 more, 10 days later

	b.limits.EventRetentionDays = 0
	if p, err := b.svc.Prune(t.Context()); err != nil || p != (store.Pruned{}) {
		t.Fatalf("Prune with no retention = %+v, %v; want nothing deleted", p, err)
	}
	b.limits.EventRetentionDays = 7
	p, err := b.svc.Prune(t.Context())
	if err != nil || p.TaskEvents != 3 {
		t.Fatalf("Prune with 7 days = %+v, %v; want the 3 old task events", p, err)
	}
	ts, err := b.store.ListTasks(t.Context(), b.ws.ID, store.TaskFilter{}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 5 {
		t.Errorf("%d tasks left, want all 5: retention deletes events, not tasks", len(ts))
	}
	left := 0
	for _, task := range ts {
		evs, err := b.store.ListEvents(t.Context(), b.ws.ID, task.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		left += len(evs)
	}
	if left != 2 {
		t.Errorf("%d events left, want the 2 new ones", left)
	}
	if p, err := b.svc.Prune(t.Context()); err != nil || p != (store.Pruned{}) {
		t.Errorf("second Prune = %+v, %v; want nothing left to delete", p, err)
	}
}
