package server

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/pkg/api"
)

// scrape GETs /metrics and parses the exposition.
func (b *bundle) scrape() map[string]*dto.MetricFamily {
	b.t.Helper()
	r := b.req("GET", "/metrics", "", "")
	if r.Status != 200 {
		b.t.Fatalf("GET /metrics: %d %s", r.Status, r.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(r.Body)))
	if err != nil {
		b.t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the family's series with exactly the given
// labels (name, value pairs, in any order): a counter's or gauge's value, a histogram's
// count. ok is false when there is no such series.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAfterWorkload runs a scripted workload through HTTP, scrapes
// /metrics, and checks every counter it should have moved, to the unit.
// metricWant is a sample a metrics test expects.
type metricWant struct {
	name   string
	labels []string
	v      float64
}

func TestMetricsAfterWorkload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	worker := b.newKey(a.key, api.ScopeWorker).Secret

	// Two tasks run: one succeeds, one fails for good.
	t1 := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	t2 := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	if got := b.claim(worker); len(got) != 2 {
		t.Fatalf("claimed %d tasks, want 2", len(got))
	}
	b.call("POST", "/v1/tasks/"+t1.ID+"/complete", worker, api.CompleteRequest{Attempt: 1, Output: []byte(`{"ok":true}`)}, 200, nil)
	b.call("POST", "/v1/tasks/"+t2.ID+"/fail", worker, api.FailRequest{Attempt: 1, Error: "boom"}, 200, nil)
	// One is cancelled while queued.
	t3 := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.call("POST", "/v1/tasks/"+t3.ID+"/cancel", a.key, nil, 200, nil)
	// One is claimed, its worker vanishes, and the reaper requeues it.
	b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	if got := b.claim(worker); len(got) != 1 {
		t.Fatalf("claimed %d tasks, want 1", len(got))
	}
	b.advance(31 * time.Second)
	if n, err := b.srv.Tasks().Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}

	// Bad credentials, one of each kind.
	revoked := b.newKey(a.key, api.ScopeTasksRead)
	b.call("DELETE", "/v1/keys/"+revoked.ID, a.key, nil, 200, nil)
	unknown, _ := auth.NewKey(auth.WorkspacePrefix)
	for _, cred := range []string{"", unknown, revoked.Secret, "not-a-jwt"} {
		wantProblem(t, b.req("GET", "/v1/me", cred, ""), 401, api.CodeUnauthenticated)
	}
	wantProblem(t, b.req("GET", "/v1/me", "", "", "Authorization", "Basic eDp5"), 401, api.CodeUnauthenticated)

	// A burst over a workspace's limit: burst 3, so 2 of 5 are refused
	// (the test clock stands still: nothing refills).
	z := b.newTenant("burst")
	b.call("PATCH", "/v1/workspaces/"+z.ws.ID, b.admin, map[string]any{"overrides": map[string]any{"requests_per_minute": 60, "burst": 3}}, 200, nil)
	for i := range 5 {
		if r := b.req("GET", "/v1/me", z.key, ""); (r.Status == 429) != (i >= 3) {
			t.Fatalf("burst request %d: status %d", i, r.Status)
		}
	}
	if r := b.req("GET", "/no/such/route/123", "", ""); r.Status != 404 {
		t.Fatalf("unmatched route: %d", r.Status)
	}

	mfs := b.scrape()
	want := []metricWant{
		{"baton_task_transitions_total", []string{"status", "queued"}, 5}, // 4 submits + 1 requeue
		{"baton_task_transitions_total", []string{"status", "running"}, 3},
		{"baton_task_transitions_total", []string{"status", "succeeded"}, 1},
		{"baton_task_transitions_total", []string{"status", "failed"}, 1},
		{"baton_task_transitions_total", []string{"status", "cancelled"}, 1},
		{"baton_task_transitions_total", []string{"status", "timed_out"}, 0},
		{"baton_tasks_claimed_total", nil, 3},
		{"baton_claim_duration_seconds", nil, 2}, // two claim requests
		{"baton_lease_expiries_total", nil, 1},
		{"baton_auth_failures_total", []string{"reason", "missing"}, 1},
		{"baton_auth_failures_total", []string{"reason", "malformed"}, 1},
		{"baton_auth_failures_total", []string{"reason", "unknown"}, 1},
		{"baton_auth_failures_total", []string{"reason", "revoked"}, 1},
		{"baton_auth_failures_total", []string{"reason", "session"}, 1},
		{"baton_auth_failures_total", []string{"reason", "expired"}, 0},
		{"baton_rate_limited_total", []string{"scope", "workspace"}, 2},
		{"baton_rate_limited_total", []string{"scope", "address_auth"}, 0},
		{"baton_quota_rejections_total", []string{"limit", "max_queued_tasks"}, 0},
		{"baton_http_requests_total", []string{"route", "/v1/tasks", "method", "POST", "status", "201"}, 4},
		{"baton_http_requests_total", []string{"route", "/v1/tasks/claim", "method", "POST", "status", "200"}, 2},
		{"baton_http_requests_total", []string{"route", "/v1/tasks/{id}/complete", "method", "POST", "status", "200"}, 1},
		{"baton_http_requests_total", []string{"route", "/v1/me", "method", "GET", "status", "401"}, 5},
		{"baton_http_requests_total", []string{"route", "/v1/me", "method", "GET", "status", "200"}, 3},
		{"baton_http_requests_total", []string{"route", "/v1/me", "method", "GET", "status", "429"}, 2},
		{"baton_http_requests_total", []string{"route", "unmatched", "method", "GET", "status", "404"}, 1},
		{"baton_http_request_duration_seconds", []string{"route", "/v1/tasks", "method", "POST"}, 4},
		{"baton_tasks", []string{"state", "queued"}, 1},
		{"baton_tasks", []string{"state", "running"}, 0},
		{"baton_tasks", []string{"state", "succeeded"}, 1},
		{"baton_tasks", []string{"state", "failed"}, 1},
		{"baton_tasks", []string{"state", "cancelled"}, 1},
		{"baton_queue_depth", []string{"queue", "default"}, 1},
		{"baton_queue_oldest_age_seconds", []string{"queue", "default"}, 31},
		{"baton_ready", nil, 1},
		{"baton_build_info", []string{"version", "test"}, 1},
	}
	pool := metricWant{"baton_db_pool_max_conns", []string{"pool", "sqlite_writer"}, 1}
	if _, pg := b.store.(*postgres.Store); pg {
		pool = metricWant{"baton_db_pool_max_conns", []string{"pool", "postgres"}, 8}
	}
	want = append(want, pool)
	for _, w := range want {
		got, ok := value(mfs, w.name, w.labels...)
		if !ok || got != w.v {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, got, ok, w.v)
		}
	}
	// The raw path of an unmatched request never becomes a label.
	for _, m := range mfs["baton_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "/no/such") {
				t.Errorf("raw path in a label: %v", m)
			}
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "baton_db_pool_in_use_conns"} {
		if mfs[name] == nil {
			t.Errorf("%s is not exported", name)
		}
	}
}
