package server

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// newFreeTenant creates a workspace on the free tier with overrides.
func (b *bundle) newFreeTenant(name string, overrides map[string]int64) tenant {
	b.t.Helper()
	var out api.CreateWorkspaceResponse
	b.call("POST", "/v1/workspaces", b.admin, api.CreateWorkspaceRequest{Name: name, Tier: "free"}, 201, &out)
	if len(overrides) > 0 {
		b.setOverrides(out.Workspace.ID, overrides)
	}
	return tenant{ws: out.Workspace, key: out.Key.Secret}
}

func (b *bundle) setOverrides(wsID string, overrides map[string]int64) {
	b.t.Helper()
	o := map[string]*int64{}
	for k, v := range overrides {
		o[k] = &v
	}
	b.call("PATCH", "/v1/workspaces/"+wsID, b.admin, api.UpdateWorkspaceRequest{Overrides: o}, 200, nil)
}

func (b *bundle) quota(cred string) api.Quota {
	b.t.Helper()
	var q api.Quota
	b.call("GET", "/v1/usage/quota", cred, nil, 200, &q)
	return q
}

func (b *bundle) totals(wsID string) map[string]int64 {
	b.t.Helper()
	got, err := b.store.UsageTotals(context.Background(), wsID, b.clock())
	if err != nil {
		b.t.Fatal(err)
	}
	return got
}

// TestQuotaTerminatesRunningAndHoldsQueued is the hard-quota proof: a free
// workspace (2 concurrent tasks) with a 30 s execution quota runs two
// tasks that would take 60 s each, heartbeating every 5 s. Both are told
// to stop and end terminated; metered execution is at least the quota and
// at most quota + concurrent tasks × heartbeat interval; the third task is
// held (queued, shown as held, not claimable) and runs once the quota is
// raised.
func TestQuotaTerminatesRunningAndHoldsQueued(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ws := b.newFreeTenant("capped", map[string]int64{api.LimitMonthlyExecutionSeconds: 30})
	var tasks []api.Task
	for range 3 {
		tasks = append(tasks, b.submit(ws.key, api.SubmitTaskRequest{TimeoutSeconds: 120}, "", 201))
		b.advance(time.Millisecond) // ids, and so claim order, follow the clock
	}
	running := b.claim(ws.key)
	if len(running) != 2 {
		t.Fatalf("claimed %d tasks, want the free tier's 2", len(running))
	}
	hb := b.srv.tasks.HeartbeatInterval()
	stopped := map[string]time.Duration{}
	for elapsed := hb; elapsed <= 60*time.Second && len(stopped) < 2; elapsed += hb {
		b.advance(hb)
		for _, task := range running {
			if _, done := stopped[task.ID]; done {
				continue
			}
			resp := b.heartbeat(ws.key, task.ID, 1, 200)
			if resp.Cancel {
				if resp.Reason != "quota_exceeded" {
					t.Fatalf("task %s cancelled with reason %q, want quota_exceeded", task.ID, resp.Reason)
				}
				stopped[task.ID] = elapsed
			}
		}
	}
	if len(stopped) != 2 {
		t.Fatalf("after 60 s only %d of 2 tasks were stopped", len(stopped))
	}
	for _, task := range running {
		got := b.getTask(ws.key, task.ID)
		if got.Status != api.TaskTerminated || !strings.HasPrefix(got.StatusReason, "quota_exceeded: monthly execution seconds used up") {
			t.Errorf("task %s: %s (%q), want terminated by the quota", task.ID, got.Status, got.StatusReason)
		}
		// A late heartbeat of a terminated task is told why, and gets no
		// lease.
		if resp := b.heartbeat(ws.key, task.ID, 1, 200); !resp.Cancel || resp.Reason != "quota_exceeded" || resp.LeaseExpiresAt != nil {
			t.Errorf("late heartbeat of %s = %+v", task.ID, resp)
		}
		if r := b.req("POST", "/v1/tasks/"+task.ID+"/heartbeat", ws.key, `{"attempt":1}`); strings.Contains(string(r.Body), "lease_expires_at") {
			t.Errorf("a cancel answer carries a lease: %s", r.Body)
		}
	}
	metered := time.Duration(b.totals(ws.ws.ID)[store.MetricExecutionMS]) * time.Millisecond
	quota, bound := 30*time.Second, 30*time.Second+2*hb
	t.Logf("metered execution %s against a quota of %s (bound %s); stopped after %v", metered, quota, bound, stopped)
	if metered < quota || metered > bound {
		t.Fatalf("metered execution %s, want within [%s, %s]", metered, quota, bound)
	}

	// The third task is held: queued, shown as held, not claimable.
	third := b.getTask(ws.key, tasks[2].ID)
	if third.Status != api.TaskQueued || !strings.HasPrefix(third.StatusReason, "held: monthly execution seconds used up") {
		t.Fatalf("third task = %s (%q), want held", third.Status, third.StatusReason)
	}
	var list api.List[api.Task]
	b.call("GET", "/v1/tasks?status=queued", ws.key, nil, 200, &list)
	if len(list.Data) != 1 || !strings.HasPrefix(list.Data[0].StatusReason, "held:") {
		t.Fatalf("queued list = %+v, want the held task", list.Data)
	}
	if got := b.claim(ws.key); len(got) != 0 {
		t.Fatalf("claimed %s while the quota is used up", got[0].ID)
	}
	q := b.quota(ws.key)
	if q.Held != 1 || q.Queued != 1 || !slices.Equal(q.Exceeded, []string{api.QuotaExecutionSeconds}) {
		t.Fatalf("quota = held %d queued %d exceeded %v, want 1, 1, [execution_seconds]", q.Held, q.Queued, q.Exceeded)
	}
	if m, _ := q.Metric(api.QuotaExecutionSeconds); m.Used != int64(metered/time.Second) || m.Limit != 30 || m.Percent <= 100 {
		t.Fatalf("execution seconds gauge = %+v", m)
	}

	// The operator's view says the same.
	var all api.List[api.Quota]
	b.call("GET", "/v1/admin/usage", b.admin, nil, 200, &all)
	if len(all.Data) != 1 || all.Data[0].Held != 1 || all.Data[0].Queued != 1 || all.Data[0].Running != 0 ||
		!slices.Equal(all.Data[0].Exceeded, q.Exceeded) {
		t.Fatalf("admin usage = %+v, want the workspace's snapshot", all.Data)
	}

	// Raising the quota releases it at once.
	b.setOverrides(ws.ws.ID, map[string]int64{api.LimitMonthlyExecutionSeconds: 3600})
	got := b.claim(ws.key)
	if len(got) != 1 || got[0].ID != tasks[2].ID {
		t.Fatalf("after raising the quota claimed %v, want the held task", got)
	}
}

// TestQuotaResetsWithThePeriod: tasks held by a used-up quota run when the
// next billing period starts, and submit's Retry-After counts down to it.
func TestQuotaResetsWithThePeriod(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ws := b.newFreeTenant("monthly", map[string]int64{api.LimitMonthlyTaskExecutions: 1})
	b.submit(ws.key, api.SubmitTaskRequest{}, "", 201)
	b.advance(time.Millisecond) // ids, and so claim order, follow the clock
	held := b.submit(ws.key, api.SubmitTaskRequest{}, "idem-held", 201)
	first := b.claim(ws.key)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1 (one execution allowed)", len(first))
	}
	// Executions are used up: submits are refused until December.
	r := b.req("POST", "/v1/tasks", ws.key, `{}`)
	p := wantProblem(t, r, 429, api.CodeQuotaExceeded)
	if !strings.Contains(p.Detail, "monthly task executions used up (1/1)") {
		t.Errorf("detail = %q", p.Detail)
	}
	// 2026-11-28 12:00:00.001 UTC to 2026-12-01 00:00 UTC, rounded up.
	if got := r.Header.Get("Retry-After"); got != "216000" {
		t.Errorf("Retry-After = %q, want 216000", got)
	}
	// A replay of a submit that made a task is answered with that task.
	if got := b.submit(ws.key, api.SubmitTaskRequest{}, "idem-held", 200); got.ID != held.ID {
		t.Errorf("replayed submit returned %s, want %s", got.ID, held.ID)
	}
	if got := b.claim(ws.key); len(got) != 0 {
		t.Fatalf("claimed %v with executions used up", got)
	}
	b.advance(60 * time.Hour) // 2026-12-01 00:00
	got := b.claim(ws.key)
	if len(got) != 1 || got[0].ID != held.ID {
		t.Fatalf("in the new period claimed %v, want the held task", got)
	}
}

// TestSpendCapStopsTask: an agent that reports spend past the cap is told
// to stop at that heartbeat, and the task ends terminated.
func TestSpendCapStopsTask(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ws := b.newFreeTenant("spender", nil) // free: $5 a month
	task := b.submit(ws.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(ws.key)
	beat := func(cost int64) api.HeartbeatResponse {
		var out api.HeartbeatResponse
		b.call("POST", "/v1/tasks/"+task.ID+"/heartbeat", ws.key,
			api.HeartbeatRequest{Attempt: 1, Usage: &api.UsageReport{Tokens: 1000, CostMicros: cost}}, 200, &out)
		return out
	}
	b.advance(time.Second)
	if resp := beat(4_990_000); resp.Cancel {
		t.Fatalf("cancelled under the cap: %+v", resp)
	}
	b.advance(time.Second)
	resp := beat(5_200_000)
	if !resp.Cancel || resp.Reason != "quota_exceeded" {
		t.Fatalf("heartbeat past the spend cap = %+v, want cancel quota_exceeded", resp)
	}
	got := b.getTask(ws.key, task.ID)
	if got.Status != api.TaskTerminated || !strings.Contains(got.StatusReason, "monthly spend cap used up ($5.20/$5.00)") {
		t.Fatalf("task = %s (%q), want terminated by the spend cap", got.Status, got.StatusReason)
	}
	if got.Usage.CostMicros != 5_200_000 {
		t.Errorf("task cost = %d, want the reported 5200000", got.Usage.CostMicros)
	}
	if spent := b.totals(ws.ws.ID)[store.MetricCostMicros]; spent != 5_200_000 {
		t.Errorf("metered spend = %d, want 5200000", spent)
	}
	// New work is refused until the period resets.
	wantProblem(t, b.req("POST", "/v1/tasks", ws.key, `{}`), 429, api.CodeQuotaExceeded)
	if v, _ := value(b.scrape(), "baton_quota_rejections_total", "limit", "monthly_spend_usd"); v != 2 {
		t.Errorf("quota rejections for spend = %v, want 2 (the stop and the submit)", v)
	}
}

// TestQueuedCap: submits past max_queued_tasks are refused (no
// Retry-After: a queued task leaving frees the room, not the calendar).
func TestQueuedCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ws := b.newFreeTenant("queue", map[string]int64{api.LimitMaxQueuedTasks: 2})
	b.submit(ws.key, api.SubmitTaskRequest{}, "", 201)
	b.submit(ws.key, api.SubmitTaskRequest{}, "", 201)
	r := b.req("POST", "/v1/tasks", ws.key, `{}`)
	p := wantProblem(t, r, 429, api.CodeQuotaExceeded)
	if !strings.Contains(p.Detail, "queued task cap reached (2)") || r.Header.Get("Retry-After") != "" {
		t.Errorf("detail %q, Retry-After %q", p.Detail, r.Header.Get("Retry-After"))
	}
	if n, _ := b.store.CountTasks(context.Background(), ws.ws.ID, ""); n != 2 {
		t.Errorf("%d tasks stored, want 2", n)
	}
	b.claim(ws.key)
	b.submit(ws.key, api.SubmitTaskRequest{}, "", 201)
}

// TestUsageReport: API calls are metered per request id (a retried
// request counts once), task usage lands in the series, and the report
// reads hour or day buckets.
func TestUsageReport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, z := b.newTenant("alpha"), b.newTenant("zulu")
	for range 3 {
		b.call("GET", "/v1/me", a.key, nil, 200, nil)
	}
	// The same request id twice: one call.
	b.call("GET", "/v1/me", a.key, nil, 200, nil, api.HeaderRequestID, "req_retried")
	b.call("GET", "/v1/me", a.key, nil, 200, nil, api.HeaderRequestID, "req_retried")
	b.call("GET", "/v1/me", z.key, nil, 200, nil)
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201) // call 5
	b.claim(a.key)                                            // call 6
	b.advance(90 * time.Minute)
	var done api.Task
	b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1,
		Usage: &api.UsageReport{Tokens: 1200, CostMicros: 3100}}, 200, &done) // call 7
	if err := b.srv.FlushUsage(context.Background()); err != nil {
		t.Fatal(err)
	}

	var hourly api.UsageSeries
	b.call("GET", "/v1/usage?granularity=hour&from=2026-11-28T00:00:00Z&to=2026-11-29T00:00:00Z", a.key, nil, 200, &hourly)
	wantTotals := map[string]int64{api.MetricAPICalls: 7, api.MetricTaskExecutions: 1,
		api.MetricExecutionMS: 90 * 60 * 1000, api.MetricTokens: 1200, api.MetricCostMicros: 3100}
	for m, want := range wantTotals {
		if hourly.Totals[m] != want {
			t.Errorf("total %s = %d, want %d", m, hourly.Totals[m], want)
		}
	}
	noon := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	if got := hourly.Series[api.MetricTaskExecutions]; len(got) != 1 || !got[0].Start.Equal(noon) || got[0].Value != 1 {
		t.Errorf("executions by hour = %+v, want 1 at 12:00", got)
	}
	if got := hourly.Series[api.MetricExecutionMS]; len(got) != 1 || !got[0].Start.Equal(noon.Add(time.Hour)) {
		t.Errorf("execution by hour = %+v, want all of it at 13:00 (accrued at completion)", got)
	}
	var daily api.UsageSeries
	b.call("GET", "/v1/usage", a.key, nil, 200, &daily) // this period by day (call 8, after the flush)
	if daily.Granularity != "day" || !daily.From.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("default report = %s from %s", daily.Granularity, daily.From)
	}
	if got := daily.Series[api.MetricTokens]; len(got) != 1 || got[0].Value != 1200 {
		t.Errorf("tokens by day = %+v", got)
	}
	var zu api.UsageSeries
	b.call("GET", "/v1/usage", z.key, nil, 200, &zu)
	if zu.WorkspaceID != z.ws.ID || zu.Totals[api.MetricAPICalls] != 1 || zu.Totals[api.MetricTaskExecutions] != 0 {
		t.Errorf("zulu's report = %+v, want its own single call", zu.Totals)
	}

	q := b.quota(a.key)
	if q.APICalls != 7 || q.Tokens != 1200 || q.Period != "2026-11" || q.ResetsIn != int64((60*time.Hour-90*time.Minute)/time.Second) {
		t.Errorf("quota = calls %d tokens %d period %s resets in %d", q.APICalls, q.Tokens, q.Period, q.ResetsIn)
	}
	if m, _ := q.Metric(api.QuotaAPIRate); m.Limit != 600 {
		t.Errorf("api rate gauge = %+v, want the pro limit 600", m)
	}

	for _, bad := range []string{"granularity=minute", "from=yesterday", "to=2026-13-01",
		"from=2026-11-20&to=2026-11-10", "granularity=hour&from=2026-01-01&to=2026-11-01"} {
		wantProblem(t, b.req("GET", "/v1/usage?"+bad, a.key, ""), 400, api.CodeInvalidRequest)
	}
}

// TestAdminCosts checks revenue, cost and margin against a hand
// calculation, with the default rates ($0.00002 per execution second,
// $0.0001 per API call):
//
//	ws      tier  revenue  execution     calls   agent    cost                            margin    margin %
//	burner  pro   49.00    1 000 000 s   10 000  30.00    20.00 + 1.00 + 30.00 = 51.00    −2.00     −4.08 %
//	steady  pro   49.00    100 000 s     1 000   5.00     2.00 + 0.10 + 5.00 = 7.10       41.90     85.51 %
//	freebie free  0        1 500.5 s     100     0.50     0.03001 + 0.01 + 0.50 = 0.54001 −0.54001  —
//
// sorted worst first: burner (−2.00), freebie (−0.54), steady (41.90).
func TestAdminCosts(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *Config) { c.Rates = metering.Rates{ExecutionSecondMicros: 20, APICallMicros: 100} })
	burner, steady := b.newTenant("burner"), b.newTenant("steady")
	freebie := b.newFreeTenant("freebie", nil)
	at := b.clock()
	var events []store.UsageEvent
	add := func(ws, metric string, v int64) {
		events = append(events, store.UsageEvent{ID: ws + metric, WorkspaceID: ws, Metric: metric, Value: v, At: at})
	}
	add(burner.ws.ID, store.MetricExecutionMS, 1_000_000_000)
	add(burner.ws.ID, store.MetricAPICalls, 10_000)
	add(burner.ws.ID, store.MetricCostMicros, 30_000_000)
	add(steady.ws.ID, store.MetricExecutionMS, 100_000_000)
	add(steady.ws.ID, store.MetricAPICalls, 1_000)
	add(steady.ws.ID, store.MetricCostMicros, 5_000_000)
	add(freebie.ws.ID, store.MetricExecutionMS, 1_500_500)
	add(freebie.ws.ID, store.MetricAPICalls, 100)
	add(freebie.ws.ID, store.MetricCostMicros, 500_000)
	if _, err := b.store.RecordUsage(context.Background(), events...); err != nil {
		t.Fatal(err)
	}
	// Earlier months are not this one.
	if _, err := b.store.RecordUsage(context.Background(), store.UsageEvent{ID: "old", WorkspaceID: steady.ws.ID,
		Metric: store.MetricCostMicros, Value: 99_000_000, At: at.AddDate(0, -1, 0)}); err != nil {
		t.Fatal(err)
	}
	var rep api.CostReport
	b.call("GET", "/v1/admin/costs?period=2026-11", b.admin, nil, 200, &rep)
	type row struct {
		id                    string
		revenue, cost, margin int64
		percent               float64 // NaN: none
		negative, hasPercent  bool
	}
	want := []row{
		{burner.ws.ID, 49_000_000, 51_000_000, -2_000_000, -4.08, true, true},
		{freebie.ws.ID, 0, 540_010, -540_010, 0, true, false},
		{steady.ws.ID, 49_000_000, 7_100_000, 41_900_000, 85.51, false, true},
	}
	if rep.Period != "2026-11" || len(rep.Data) != len(want) {
		t.Fatalf("report = %+v", rep)
	}
	for i, w := range want {
		g := rep.Data[i]
		if g.WorkspaceID != w.id || g.RevenueMicros != w.revenue || g.CostMicros != w.cost || g.MarginMicros != w.margin || g.Negative != w.negative {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
		if (g.MarginPercent != nil) != w.hasPercent || (w.hasPercent && *g.MarginPercent != w.percent) {
			t.Errorf("row %d margin %% = %v, want %v", i, g.MarginPercent, w.percent)
		}
	}
	if tot := rep.Totals; tot.RevenueMicros != 98_000_000 || tot.CostMicros != 58_640_010 || tot.MarginMicros != 39_359_990 {
		t.Errorf("totals = %+v", tot)
	}
	wantProblem(t, b.req("GET", "/v1/admin/costs?period=2026-13", b.admin, ""), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("GET", "/v1/admin/costs", burner.key, ""), 403, api.CodeForbidden)

	var all api.List[api.Quota]
	b.call("GET", "/v1/admin/usage", b.admin, nil, 200, &all)
	if len(all.Data) != 3 || all.Data[0].WorkspaceID != burner.ws.ID {
		t.Fatalf("admin usage = %d rows, first %s; want 3, burner (1 000 000 of 180 000 execution seconds) first", len(all.Data), all.Data[0].WorkspaceID)
	}
	for i := 1; i < len(all.Data); i++ {
		if all.Data[i-1].MaxPercent() < all.Data[i].MaxPercent() {
			t.Errorf("admin usage not sorted by percent: %v then %v", all.Data[i-1].MaxPercent(), all.Data[i].MaxPercent())
		}
	}
}

// TestUsageStream: the stream sends the current snapshot at once, and a
// new one when usage changes; a workspace's stream is its own.
func TestUsageStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, z := b.newTenant("alpha"), b.newTenant("zulu")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.http.URL+"/v1/usage/stream", nil)
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	snaps := make(chan api.Quota)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var q api.Quota
				if json.Unmarshal([]byte(data), &q) == nil {
					select {
					case snaps <- q:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}()
	next := func(what string, ok func(api.Quota) bool) api.Quota {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case q := <-snaps:
				if q.WorkspaceID != a.ws.ID {
					t.Fatalf("alpha's stream sent %s's snapshot", q.WorkspaceID)
				}
				if ok(q) {
					return q
				}
			case <-deadline:
				t.Fatalf("no snapshot with %s", what)
			}
		}
	}
	next("nothing queued", func(q api.Quota) bool { return q.Queued == 0 })
	b.submit(z.key, api.SubmitTaskRequest{}, "", 201) // another workspace: no change here
	b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	next("one queued", func(q api.Quota) bool { return q.Queued == 1 })
	b.claim(a.key)
	q := next("one running", func(q api.Quota) bool { return q.Running == 1 })
	if m, _ := q.Metric(api.QuotaTaskExecutions); m.Used != 1 {
		t.Errorf("executions gauge = %+v, want 1 used", m)
	}
}

// TestMeteringSnapshotPercent covers the snapshot's arithmetic at the
// edges: overshoot past 100 %, a limit of 0, and an unlimited rate.
func TestMeteringSnapshotPercent(t *testing.T) {
	t.Parallel()
	q := metering.Snapshot(metering.State{
		Workspace: store.Workspace{ID: "ws_1", Status: api.WorkspaceActive},
		Limits:    api.Limits{MonthlyTaskExecutions: 1000, MonthlyExecutionSeconds: 30, MaxConcurrentTasks: 0},
		Totals:    map[string]int64{store.MetricTaskExecutions: 850, store.MetricExecutionMS: 36_000},
		Queued:    4, Now: time.Date(2026, 11, 30, 23, 59, 59, 500_000_000, time.UTC),
	})
	for name, want := range map[string]float64{api.QuotaTaskExecutions: 85, api.QuotaExecutionSeconds: 120,
		api.QuotaSpend: 100, api.QuotaConcurrency: 100, api.QuotaAPIRate: 0} {
		if m, _ := q.Metric(name); m.Percent != want {
			t.Errorf("%s percent = %v, want %v", name, m.Percent, want)
		}
	}
	if m, _ := q.Metric(api.QuotaAPIRate); !m.Unlimited {
		t.Error("requests_per_minute 0 is not shown as unlimited")
	}
	if q.Held != 4 || q.ResetsIn != 1 || !slices.Equal(q.Exceeded, []string{api.QuotaExecutionSeconds, api.QuotaSpend}) {
		t.Errorf("held %d, resets in %d, exceeded %v", q.Held, q.ResetsIn, q.Exceeded)
	}
}

// firstSnapshot opens the usage stream with cred and returns its first
// snapshot.
func firstSnapshot(t *testing.T, b *bundle, cred string) api.Quota {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.http.URL+"/v1/usage/stream", nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var q api.Quota
			if err := json.Unmarshal([]byte(data), &q); err != nil {
				t.Fatal(err)
			}
			return q
		}
	}
	t.Fatalf("stream ended without a snapshot: %v", sc.Err())
	return api.Quota{}
}
