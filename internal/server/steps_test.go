package server

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func (b *bundle) beginStep(cred, id, key string, req api.StepBeginRequest) api.StepBeginResponse {
	b.t.Helper()
	var out api.StepBeginResponse
	b.call("POST", "/v1/tasks/"+id+"/steps/"+url.PathEscape(key)+"/begin", cred, req, 200, &out)
	return out
}

func (b *bundle) endStep(cred, id, key string, req api.StepEndRequest) api.StepEndResponse {
	b.t.Helper()
	var out api.StepEndResponse
	b.call("POST", "/v1/tasks/"+id+"/steps/"+url.PathEscape(key)+"/end", cred, req, 200, &out)
	return out
}

// TestStepsOverHTTP runs a task's program twice through the routes: the
// journal replays, a wait frees the slot and a signal wakes the task.
func TestStepsOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{MaxCostMicros: 1_000_000}, "", 201)
	if task.MaxCostMicros != 1_000_000 {
		t.Fatalf("max_cost_micros = %d", task.MaxCostMicros)
	}
	b.claim(a.key)

	// A key with #, / and spaces, URL-escaped in the path.
	key := "fetch #1/a b"
	got := b.beginStep(a.key, task.ID, key, api.StepBeginRequest{Attempt: 1, Kind: api.StepRun})
	if got.Action != api.ActionRun || got.Key != key || got.IdempotencyKey != task.ID+"/"+key {
		t.Fatalf("begin = %+v", got)
	}
	b.advance(time.Second)
	b.endStep(a.key, task.ID, key, api.StepEndRequest{Attempt: 1, Output: json.RawMessage(`{"ok":true}`),
		Usage: &api.UsageReport{Tokens: 10, CostMicros: 1000}})
	got = b.beginStep(a.key, task.ID, key, api.StepBeginRequest{Attempt: 1, Kind: api.StepRun})
	if got.Key != key+"#2" {
		t.Fatalf("repeated key = %q", got.Key)
	}
	// A stale attempt is a 409.
	wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/steps/x/begin", a.key, `{"attempt":2,"kind":"run"}`), 409, api.CodeConflict)

	// The wait suspends: the task is waiting, the heartbeat says suspended.
	got = b.beginStep(a.key, task.ID, "approve", api.StepBeginRequest{Attempt: 1, Kind: api.StepWait, Signal: "approve"})
	if got.Action != api.ActionSuspend || got.Reason != "signal: approve" {
		t.Fatalf("wait = %+v", got)
	}
	if hb := b.heartbeat(a.key, task.ID, 1, 200); !hb.Cancel || hb.Reason != "suspended" {
		t.Fatalf("heartbeat of a suspended attempt = %+v", hb)
	}
	if tk := b.getTask(a.key, task.ID); tk.Status != api.TaskWaiting || tk.LeaseExpiresAt != nil {
		t.Fatalf("task = %s lease %v", tk.Status, tk.LeaseExpiresAt)
	}
	var queues api.List[api.Queue]
	b.call("GET", "/v1/queues", a.key, nil, 200, &queues)
	if len(queues.Data) != 1 || queues.Data[0].Waiting != 1 || queues.Data[0].Running != 0 {
		t.Fatalf("queues = %+v", queues.Data)
	}
	var waiting api.List[api.Task]
	b.call("GET", "/v1/tasks?status=waiting", a.key, nil, 200, &waiting)
	if len(waiting.Data) != 1 {
		t.Fatalf("waiting tasks = %d", len(waiting.Data))
	}
	// Nothing to claim while it waits.
	if claimed := b.claim(a.key); len(claimed) != 0 {
		t.Fatalf("claimed a waiting task: %+v", claimed)
	}

	// The signal, twice with one key: delivered once; it wakes the task.
	var sig api.Signal
	b.call("POST", "/v1/tasks/"+task.ID+"/signals/approve", a.key, api.SignalRequest{Data: json.RawMessage(`"yes"`)}, 201, &sig, api.HeaderIdempotencyKey, "s1")
	b.call("POST", "/v1/tasks/"+task.ID+"/signals/approve", a.key, api.SignalRequest{Data: json.RawMessage(`"yes"`)}, 200, &sig, api.HeaderIdempotencyKey, "s1")
	if tk := b.getTask(a.key, task.ID); tk.Status != api.TaskQueued {
		t.Fatalf("signalled task = %s", tk.Status)
	}
	claimed := b.claim(a.key)
	if len(claimed) != 1 || claimed[0].Attempt != 2 {
		t.Fatalf("claim after the signal = %+v", claimed)
	}
	// Attempt 2 replays to the wait and gets the signal's data.
	for _, k := range []string{key, key} {
		if got := b.beginStep(a.key, task.ID, k, api.StepBeginRequest{Attempt: 2, Kind: api.StepRun}); got.Action == api.ActionSuspend {
			t.Fatalf("replay = %+v", got)
		}
	}
	got = b.beginStep(a.key, task.ID, "approve", api.StepBeginRequest{Attempt: 2, Kind: api.StepWait, Signal: "approve"})
	if got.Action != api.ActionDone || string(got.Output) != `"yes"` {
		t.Fatalf("wait after the signal = %+v", got)
	}
	var steps api.StepList
	b.call("GET", "/v1/tasks/"+task.ID+"/steps", a.key, nil, 200, &steps)
	if len(steps.Data) != 3 || steps.Data[0].Key != key || steps.Data[0].Usage.Tokens != 10 || steps.Data[2].Wait == nil {
		t.Fatalf("journal = %+v", steps.Data)
	}
	// Complete; a signal to the finished task is a 409; retry from the wait.
	b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 2}, 200, nil)
	wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/signals/approve", a.key, `{}`), 409, api.CodeConflict)
	wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/retry", a.key, `{"from_step":"nope"}`), 404, api.CodeNotFound)
	var retried api.Task
	b.call("POST", "/v1/tasks/"+task.ID+"/retry", a.key, api.RetryTaskRequest{FromStep: "approve"}, 200, &retried)
	if retried.Status != api.TaskQueued {
		t.Fatalf("retried = %s", retried.Status)
	}
	b.call("GET", "/v1/tasks/"+task.ID+"/steps", a.key, nil, 200, &steps)
	// key#2, left running, is cleared too: only key stays.
	if len(steps.Data) != 1 || steps.Data[0].Key != key {
		t.Fatalf("journal after retry from approve = %+v", steps.Data)
	}
	var updated api.Task
	b.call("PATCH", "/v1/tasks/"+task.ID, a.key, map[string]any{"priority": 9, "max_cost_micros": 5}, 200, &updated)
	if updated.Priority != 9 || updated.MaxCostMicros != 5 {
		t.Fatalf("updated = %+v", updated)
	}
}

// TestStepsSleepWakesByReaper: a sleep frees the slot and the reaper's
// wake query queues the task when the timer passes.
func TestStepsSleepWakesByReaper(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	until := b.clock().Add(2 * time.Second)
	got := b.beginStep(a.key, task.ID, "nap", api.StepBeginRequest{Attempt: 1, Kind: api.StepSleep, Until: &until})
	if got.Action != api.ActionSuspend {
		t.Fatalf("sleep = %+v", got)
	}
	if _, err := b.srv.Tasks().Reap(t.Context()); err != nil {
		t.Fatal(err)
	}
	if tk := b.getTask(a.key, task.ID); tk.Status != api.TaskWaiting {
		t.Fatalf("before the timer: %s", tk.Status)
	}
	b.advance(2 * time.Second)
	if n, err := b.srv.Tasks().Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	claimed := b.claim(a.key)
	if len(claimed) != 1 {
		t.Fatalf("claim after the timer = %d", len(claimed))
	}
	got = b.beginStep(a.key, task.ID, "nap", api.StepBeginRequest{Attempt: 2, Kind: api.StepSleep, Until: &until})
	if got.Action != api.ActionDone {
		t.Fatalf("sleep replay = %+v", got)
	}
	if tk := b.getTask(a.key, task.ID); tk.Usage.ExecutionMS != 0 {
		t.Fatalf("execution while sleeping = %d ms, want 0", tk.Usage.ExecutionMS)
	}
}

// TestStepsBudget is the budget test: a budget of $0.05 and steps
// that each report $0.03: the third never begins, the task waits for
// budget, raising it resumes the task at step 3 without running 1–2 again,
// and the spend metered stays within the budget plus one step's report.
// On the way the task's 80 % and 100 % budget alerts are raised once each
// (checkBudgetAlerts).
func TestStepsBudget(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t)
	b := setupWith(t, withWebhook(rc.URL))
	b.runBackground()
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{MaxCostMicros: 50_000}, "", 201)
	b.claim(a.key)
	var spent int64
	for i, key := range []string{"s1", "s2", "s3"} {
		got := b.beginStep(a.key, task.ID, key, api.StepBeginRequest{Attempt: 1, Kind: api.StepRun, Usage: &api.UsageReport{CostMicros: spent}})
		if i == 2 {
			if got.Action != api.ActionSuspend || got.Reason != "budget: task budget used up" {
				t.Fatalf("s3 = %+v, want suspend for budget", got)
			}
			break
		}
		if got.Action != api.ActionRun {
			t.Fatalf("%s = %+v", key, got)
		}
		spent += 30_000
		b.endStep(a.key, task.ID, key, api.StepEndRequest{Attempt: 1, Usage: &api.UsageReport{CostMicros: spent}})
		if got, want := b.budgetAlerts(a.key), [][]string{nil, {task.ID + "@80", task.ID + "@100"}}[i]; !slices.Equal(got, want) {
			t.Fatalf("after %s ($%d micros): alerts %q, want %q", key, spent, got, want)
		}
	}
	if tk := b.getTask(a.key, task.ID); tk.Status != api.TaskWaiting || tk.StatusReason != "budget: task budget used up" {
		t.Fatalf("task = %s %q", tk.Status, tk.StatusReason)
	}
	b.call("PATCH", "/v1/tasks/"+task.ID, a.key, map[string]any{"max_cost_micros": 500_000}, 200, nil)
	if claimed := b.claim(a.key); len(claimed) != 1 || claimed[0].Attempt != 2 {
		t.Fatalf("claim after the raise = %+v", claimed)
	}
	for _, c := range []struct{ key, action string }{{"s1", api.ActionDone}, {"s2", api.ActionDone}, {"s3", api.ActionRun}} {
		if got := b.beginStep(a.key, task.ID, c.key, api.StepBeginRequest{Attempt: 2, Kind: api.StepRun}); got.Action != c.action {
			t.Fatalf("%s after the raise = %+v, want %s", c.key, got, c.action)
		}
	}
	if cost := b.totals(a.ws.ID)[api.MetricCostMicros]; cost > 50_000+30_000 {
		t.Fatalf("metered %d micros, over the budget plus one step", cost)
	}
	b.checkBudgetAlerts(rc, a.key, task.ID)
}

// TestStepsSpendCap: a step begins only while the workspace's spend cap
// has room; at the cap the task waits for budget instead of ending.
func TestStepsSpendCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newFreeTenant("capped", map[string]int64{api.LimitMonthlySpendMicros: 40_000})
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	if got := b.beginStep(a.key, task.ID, "s1", api.StepBeginRequest{Attempt: 1, Kind: api.StepRun}); got.Action != api.ActionRun {
		t.Fatalf("s1 = %+v", got)
	}
	b.endStep(a.key, task.ID, "s1", api.StepEndRequest{Attempt: 1, Usage: &api.UsageReport{CostMicros: 45_000}})
	got := b.beginStep(a.key, task.ID, "s2", api.StepBeginRequest{Attempt: 1, Kind: api.StepRun})
	if got.Action != api.ActionSuspend || len(got.Reason) < 7 || got.Reason[:7] != "budget:" {
		t.Fatalf("s2 at the cap = %+v, want suspend for budget", got)
	}
	if tk := b.getTask(a.key, task.ID); tk.Status != api.TaskWaiting {
		t.Fatalf("task at the cap = %s, want waiting (not terminated)", tk.Status)
	}
}

// TestChildSignalsAreTheServers: nobody may send a child:<id> signal by
// hand — it would answer a parent's join with an outcome its child never
// had; the name is refused whole (422 on name) and nothing is kept.
func TestChildSignalsAreTheServers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	r := b.req("POST", "/v1/tasks/"+task.ID+"/signals/"+api.ChildSignal("task_01jd0000000000000000000000"), a.key, `{"data":{"status":"succeeded"}}`)
	if p := wantProblem(t, r, 422, api.CodeValidationFailed); len(p.Errors) != 1 || p.Errors[0].Field != "name" {
		t.Fatalf("forged child signal: %+v", p)
	}
	b.call("POST", "/v1/tasks/"+task.ID+"/signals/child", a.key, api.SignalRequest{}, 201, nil)
}
