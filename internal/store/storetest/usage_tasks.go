package storetest

import (
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// taskUsageTests are the contract between the task transitions and the
// usage rollups: what a task consumes is metered in the transaction that
// accrues it.
var taskUsageTests = []suiteTest{
	{"TaskUsageMetered", testTaskUsageMetered},
	{"TaskUsageClaimSeesConsumed", testTaskUsageClaimSeesConsumed},
}

// testTaskUsageMetered: an attempt start counts one execution; execution
// time, tokens and cost count their growth at each heartbeat, completion
// and cancellation; replays, stale attempts and clocks running behind
// count nothing; the rollups equal the tasks' own totals.
func testTaskUsageMetered(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	other, _ := createWorkspace(t, s, "other")
	task := createTask(t, s, newTask(ws.ID))
	second := createTask(t, s, newTask(ws.ID))
	createTask(t, s, newTask(other.ID))
	claim(t, s, params(ws.ID, t0))
	checkTotals(t, s, ws.ID, t0, map[string]int64{store.MetricTaskExecutions: 1})

	hb := func(attempt int, d time.Duration, u *store.Usage) error {
		_, err := s.Heartbeat(ctx, ws.ID, task.ID, attempt, u, t0.Add(d), lease)
		return err
	}
	must(t, hb(1, 2*time.Second, &store.Usage{Tokens: 100, CostMicros: 7}), "Heartbeat")
	must(t, hb(1, 2*time.Second, &store.Usage{Tokens: 100, CostMicros: 7}), "replayed Heartbeat")
	must(t, hb(1, time.Second, &store.Usage{Tokens: 50, CostMicros: 1}), "Heartbeat with a clock behind")
	checkTotals(t, s, ws.ID, t0, map[string]int64{store.MetricTaskExecutions: 1,
		store.MetricExecutionMS: 2000, store.MetricTokens: 100, store.MetricCostMicros: 7})

	// A retryable failure ends attempt 1 at 3 s; attempt 2 runs 1.5 s and
	// is cancelled.
	_, err := s.Complete(ctx, ws.ID, task.ID, 1, store.Outcome{Status: api.TaskFailed, Error: "x", Retryable: true,
		RetryAt: t0.Add(time.Minute), Now: t0.Add(3 * time.Second), Usage: &store.Usage{Tokens: 300, CostMicros: 10}})
	must(t, err, "Complete")
	wantErr(t, hb(1, 4*time.Second, &store.Usage{Tokens: 900, CostMicros: 90}), store.ErrStale, "Heartbeat of an ended attempt")
	// The retry is claimed first (same priority, lower id), then the
	// second task.
	got := claim(t, s, params(ws.ID, t0.Add(time.Minute)))
	if got.ID != task.ID || got.Attempt != 2 {
		t.Fatalf("claimed %s attempt %d, want %s attempt 2", got.ID, got.Attempt, task.ID)
	}
	claim(t, s, params(ws.ID, t0.Add(time.Minute)))
	must(t, hb(2, time.Minute+time.Second, &store.Usage{Tokens: 20}), "Heartbeat of attempt 2")
	_, err = s.CancelTask(ctx, ws.ID, task.ID, "user", t0.Add(time.Minute+1500*time.Millisecond))
	must(t, err, "CancelTask")
	_, err = s.Complete(ctx, ws.ID, second.ID, 1, store.Outcome{Status: api.TaskSucceeded, Now: t0.Add(time.Minute + 4*time.Second),
		Usage: &store.Usage{Tokens: 1, CostMicros: 1}})
	must(t, err, "Complete the second task")

	want := map[string]int64{store.MetricTaskExecutions: 3, store.MetricExecutionMS: 3000 + 1500 + 4000,
		store.MetricTokens: 300 + 20 + 1, store.MetricCostMicros: 10 + 1}
	checkTotals(t, s, ws.ID, t0, want)
	// The rollups equal the tasks' own totals.
	var sum usage
	for _, id := range []string{task.ID, second.ID} {
		got, err := s.GetTask(ctx, ws.ID, id)
		must(t, err, "GetTask")
		sum.exec += got.ExecutionMS
		sum.tokens += got.Tokens
		sum.cost += got.CostMicros
	}
	if sum != (usage{want[store.MetricExecutionMS], want[store.MetricTokens], want[store.MetricCostMicros]}) {
		t.Errorf("tasks' totals %+v differ from the rollups %v", sum, want)
	}
	checkTotals(t, s, other.ID, t0, map[string]int64{})
	series, err := s.UsageSeries(ctx, ws.ID, t0.Add(-time.Hour), t0.Add(time.Hour), store.GranularityHour)
	must(t, err, "UsageSeries")
	var executions int64
	for _, p := range series {
		if p.Metric == store.MetricTaskExecutions {
			executions += p.Value
		}
	}
	if executions != 3 {
		t.Errorf("hourly series counts %d executions, want 3", executions)
	}
}

// testTaskUsageClaimSeesConsumed: Eligible is given the workspace's use of
// its monthly quotas in the claim's billing period.
func testTaskUsageClaimSeesConsumed(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	addTasks(t, s, ws.ID, 3)
	claim(t, s, params(ws.ID, t0))
	_, err := s.RecordUsage(ctx, usageEvent(ws.ID, "spend", store.MetricCostMicros, 42, t0),
		usageEvent(ws.ID, "ms", store.MetricExecutionMS, 9000, t0))
	must(t, err, "RecordUsage")

	var seen []store.Consumed
	p := params(ws.ID, t0)
	p.Slots = eligible(func(_ store.Workspace, _ int, used store.Consumed) bool {
		seen = append(seen, used)
		return false
	})
	noClaim(t, s, p, "claim refused by Eligible")
	want := store.Consumed{Executions: 1, ExecutionMS: 9000, CostMicros: 42}
	if len(seen) == 0 {
		t.Fatal("Eligible not called")
	}
	for _, got := range seen {
		if got != want {
			t.Errorf("Eligible saw %+v, want %+v", got, want)
		}
	}
	// In the next billing period nothing is used yet.
	seen = nil
	p.Now = store.UsagePeriod(t0).AddDate(0, 1, 0)
	noClaim(t, s, p, "claim refused by Eligible next month")
	for _, got := range seen {
		if got != (store.Consumed{}) {
			t.Errorf("next period: Eligible saw %+v, want nothing used", got)
		}
	}
	p.Slots = eligible(func(_ store.Workspace, _ int, used store.Consumed) bool { return used.Executions == 0 })
	claim(t, s, p)
}
