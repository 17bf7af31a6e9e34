package tasks_test

import (
	"encoding/json"
	"testing"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// BenchmarkHeartbeatBudget is what the budget alerts add to a heartbeat
// that reports usage (SQLite): nothing without a budget; one read of the
// children's cost while the task is under 100 %; nothing once both
// thresholds are raised (the replica remembers them).
func BenchmarkHeartbeatBudget(b *testing.B) {
	for _, c := range []struct {
		name   string
		budget int64
		start  int64 // the cost reported before the loop
	}{
		{"none", 0, 0},
		{"under", 1 << 50, 0},
		{"past100", 1_000, 2_000},
	} {
		b.Run(c.name, func(b *testing.B) {
			bu := setup(b)
			bu.limits.MonthlyExecutionSeconds, bu.limits.MaxTaskDurationSeconds, bu.limits.MonthlySpendMicros = 1<<40, 1<<30, 1<<60
			svc, ws, now := bu.svc, bu.ws, bu.clock.Now()
			if _, _, err := svc.Submit(b.Context(), ws, store.Task{ID: ids.New(ids.Task), WorkspaceID: ws.ID, Queue: api.DefaultQueue,
				Input: json.RawMessage(`{}`), MaxAttempts: 1, MaxCostMicros: c.budget, CreatedAt: now, RunAt: now}); err != nil {
				b.Fatal(err)
			}
			got, err := svc.Claim(b.Context(), ws.ID, []string{api.DefaultQueue}, "w", 1, 0)
			if err != nil || len(got) != 1 {
				b.Fatalf("claim: %v %v", got, err)
			}
			task := got[0]
			cost := c.start
			beat := func() {
				cost++
				if _, err := svc.Heartbeat(b.Context(), ws, task.ID, 1, &store.Usage{CostMicros: cost}); err != nil {
					b.Fatal(err)
				}
			}
			beat()
			for b.Loop() {
				beat()
			}
		})
	}
}
