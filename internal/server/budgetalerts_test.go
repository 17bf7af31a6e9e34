package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// budgetAlerts is the task budget alerts of the workspace, as
// "TASK@THRESHOLD", oldest first.
func (b *bundle) budgetAlerts(cred string) []string {
	b.t.Helper()
	var out []string
	for _, a := range b.alerts(cred, "?state=all") {
		if a.Metric == api.AlertMetricTaskBudget {
			out = append(out, fmt.Sprintf("%s@%d", a.Period, a.Threshold))
		}
	}
	slices.Reverse(out)
	return out
}

// spend heartbeats attempt of task id with the attempt's cost so far.
func (b *bundle) spend(cred, id string, attempt int, costMicros int64) {
	b.t.Helper()
	b.call("POST", "/v1/tasks/"+id+"/heartbeat", cred, api.HeartbeatRequest{Attempt: attempt, Usage: &api.UsageReport{CostMicros: costMicros}}, 200, nil)
}

// checkBudgetAlerts checks, at the end of TestStepsBudget (a budget of
// $0.05, steps of $0.03, the budget raised, the task run to its end), that
// the task has exactly its 80 % and 100 % alerts — none more at the step
// that did not begin, the raise or the end — naming the task, and that the
// webhook and baton_alerts_total got them like the workspace's alerts.
func (b *bundle) checkBudgetAlerts(rc *receiver, cred, taskID string) {
	t := b.t
	t.Helper()
	b.call("POST", "/v1/tasks/"+taskID+"/complete", cred, api.CompleteRequest{Attempt: 2, Usage: &api.UsageReport{CostMicros: 20_000}}, 200, nil)
	if got, want := b.budgetAlerts(cred), []string{taskID + "@80", taskID + "@100"}; !slices.Equal(got, want) {
		t.Fatalf("alerts after the raise and the end: %q, want %q", got, want)
	}
	for _, al := range b.alerts(cred, "?state=all") {
		if al.Kind != api.AlertThreshold || al.Limit != 50_000 || al.Value != 60_000 ||
			!strings.Contains(al.Message, "task "+taskID+" (queue default) at 120% of its budget: $0.06 of $0.05") {
			t.Errorf("alert %+v", al)
		}
	}
	testutil.Eventually(t, 10*time.Second, "the webhook receives both", func() bool { return len(rc.alerts()) == 2 })
	if v, _ := value(b.scrape(), "baton_alerts_total", "kind", api.AlertThreshold); v != 2 {
		t.Errorf("baton_alerts_total{kind=threshold} = %v, want 2", v)
	}
}

// TestTaskBudgetAlertsCrossOneAtATime: heartbeats and the attempt's end
// cross 80 % and 100 % separately, each raising its alert once; a task's
// budget counts its children's cost, so a child's spend raises the
// parent's alert (and none of the child's own: it has no budget); a
// budget lowered under the spend raises its alert at the PATCH.
func TestTaskBudgetAlertsCrossOneAtATime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{MaxCostMicros: 100_000}, "", 201)
	b.claim(a.key)
	for _, c := range []struct {
		cost int64
		want []string
	}{
		{50_000, nil},
		{79_999, nil},
		{80_000, []string{task.ID + "@80"}},
		{99_000, []string{task.ID + "@80"}},
	} {
		b.spend(a.key, task.ID, 1, c.cost)
		if got := b.budgetAlerts(a.key); !slices.Equal(got, c.want) {
			t.Fatalf("at %d micros: %q, want %q", c.cost, got, c.want)
		}
	}
	b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1, Usage: &api.UsageReport{CostMicros: 100_000}}, 200, nil)
	if got, want := b.budgetAlerts(a.key), []string{task.ID + "@80", task.ID + "@100"}; !slices.Equal(got, want) {
		t.Fatalf("at the end: %q, want %q", got, want)
	}

	parent := b.submit(a.key, api.SubmitTaskRequest{Queue: "parents", MaxCostMicros: 100_000}, "", 201)
	b.claim(a.key, "parents")
	b.beginStep(a.key, parent.ID, "s1", api.StepBeginRequest{Attempt: 1, Kind: api.StepRun})
	b.endStep(a.key, parent.ID, "s1", api.StepEndRequest{Attempt: 1, Usage: &api.UsageReport{CostMicros: 50_000}})
	spawn := b.beginStep(a.key, parent.ID, "kid", api.StepBeginRequest{Attempt: 1, Kind: api.StepSpawn, Queue: "kids", Input: json.RawMessage(`{}`)})
	if spawn.Action != api.ActionDone {
		t.Fatalf("spawn = %+v", spawn)
	}
	kids := b.claim(a.key, "kids")
	if len(kids) != 1 || kids[0].ParentID != parent.ID {
		t.Fatalf("claimed %+v, want the child", kids)
	}
	b.spend(a.key, kids[0].ID, 1, 35_000) // the parent's spend: 85 %
	if got, want := b.budgetAlerts(a.key), []string{task.ID + "@80", task.ID + "@100", parent.ID + "@80"}; !slices.Equal(got, want) {
		t.Fatalf("after the child's spend: %q, want %q", got, want)
	}
	// A budget lowered under the spend is crossed at once.
	b.call("PATCH", "/v1/tasks/"+parent.ID, a.key, map[string]any{"max_cost_micros": 85_000}, 200, nil)
	if got, want := b.budgetAlerts(a.key), []string{task.ID + "@80", task.ID + "@100", parent.ID + "@80", parent.ID + "@100"}; !slices.Equal(got, want) {
		t.Fatalf("after lowering the parent's budget: %q, want %q", got, want)
	}
}
