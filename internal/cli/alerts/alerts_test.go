package alerts_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/alerts"
	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

func TestListFlags(t *testing.T) {
	var got *alerts.ListOptions
	run := func(_ context.Context, o *alerts.ListOptions) error { got = o; return nil }
	if err := clitest.Parse(alerts.NewCmdList(clitest.Factory(false), run)); err != nil {
		t.Fatal(err)
	}
	if got.Limit != 20 || got.All {
		t.Fatalf("defaults = %+v", got)
	}
	if err := clitest.Parse(alerts.NewCmdList(clitest.Factory(false), run), "--limit", "100", "--all"); err != nil {
		t.Fatal(err)
	}
	if got.Limit != 100 || !got.All {
		t.Fatalf("options = %+v", got)
	}
	for _, bad := range []string{"0", "101", "-1"} {
		clitest.WantFlagError(t, clitest.Parse(alerts.NewCmdList(clitest.Factory(false), run), "--limit", bad))
	}
	clitest.WantFlagError(t, clitest.Parse(alerts.NewCmdList(clitest.Factory(false), run), "extra"))
}

func TestAckFlags(t *testing.T) {
	var got *alerts.AckOptions
	run := func(_ context.Context, o *alerts.AckOptions) error { got = o; return nil }
	if err := clitest.Parse(alerts.NewCmdAck(clitest.Factory(false), run), "alert_1"); err != nil || got.ID != "alert_1" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	clitest.WantFlagError(t, clitest.Parse(alerts.NewCmdAck(clitest.Factory(false), run)))
	clitest.WantFlagError(t, clitest.Parse(alerts.NewCmdAck(clitest.Factory(false), run), "a", "b"))
}

const (
	hour = time.Hour
	day  = 24 * time.Hour
)

func ptr[T any](v T) *T { return &v }

// stubAlerts are one alert of each sort, newest first: an anomaly, two
// threshold crossings (80 % of spend, 100 % of execution seconds with
// overshoot), and an acknowledged one. Times are relative to now so that
// a terminal's relative times stay the same.
func stubAlerts() []api.Alert {
	const ws = "ws_01jd0000000000000000000001"
	return []api.Alert{
		{ID: "alert_01jd0000000000000000000004", WorkspaceID: ws, Kind: api.AlertAnomaly, Metric: api.MetricAPICalls,
			Period: "2026-11-28T21:00:00Z", Value: 950, Limit: 120.5, Message: "api_calls 950/h is 7.9x the baseline (120.5/h)",
			CreatedAt: clitest.At(-25 * time.Minute)},
		{ID: "alert_01jd0000000000000000000003", WorkspaceID: ws, Kind: api.AlertThreshold, Metric: api.QuotaExecutionSeconds,
			Threshold: 100, Period: "2026-11", Value: 3960, Limit: 3600, Message: "execution_seconds at 110% of the monthly quota",
			CreatedAt: clitest.At(-3*hour - 10*time.Minute)},
		{ID: "alert_01jd0000000000000000000002", WorkspaceID: ws, Kind: api.AlertThreshold, Metric: api.QuotaSpend,
			Threshold: 80, Period: "2026-11", Value: 16_000_000, Limit: 20_000_000, Message: "spend at 80% of the monthly cap",
			CreatedAt: clitest.At(-2*day - hour)},
		{ID: "alert_01jd0000000000000000000001", WorkspaceID: ws, Kind: api.AlertThreshold, Metric: api.QuotaTaskExecutions,
			Threshold: 80, Period: "2026-10", Value: 800, Limit: 1000, Message: "task_executions at 80% of the monthly quota",
			CreatedAt: clitest.At(-30*day - hour), AckedAt: ptr(clitest.At(-29*day - hour))},
	}
}

// stub serves the alerts: open ones (one page, with a next cursor) unless
// state=all, then every one; ack of a known id sets acked_at, else 404.
func stub(t *testing.T, queries *[]string) *clitest.Env {
	all := stubAlerts()
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/alerts": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if queries != nil {
				*queries = append(*queries, r.URL.RawQuery)
			}
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Query().Get("state") == "all" {
				_ = json.NewEncoder(w).Encode(api.List[api.Alert]{Data: all})
				return
			}
			next := "c2"
			_ = json.NewEncoder(w).Encode(api.List[api.Alert]{Data: all[:3], NextCursor: &next})
		}),
		"POST /v1/alerts/{id}/ack": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, a := range all {
				if a.ID == r.PathValue("id") {
					a.AckedAt = ptr(clitest.At(-time.Minute))
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(a)
					return
				}
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.NewProblem(api.CodeNotFound, "no such alert"))
		}),
	}.Shared())
}

func TestGolden(t *testing.T) {
	t.Parallel()
	var queries []string
	e := stub(t, &queries)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"list", []string{"alerts", "list", "--limit", "3"}},
		{"list_all", []string{"alerts", "list", "--all"}},
	} {
		tr := e.TTYWidth(200, c.args...).Want(t, 0)
		clitest.Golden(t, c.name+"_tty", tr.Stdout+"--- stderr\n"+clitest.Normalize(tr.Stderr))
		clitest.Golden(t, c.name+"_piped", clitest.Normalize(e.Run(c.args...).Want(t, 0).Stdout))
		clitest.Golden(t, c.name+"_json", clitest.Normalize(e.Run(append(c.args, "-o", "json")...).Want(t, 0).Stdout))
	}
	for _, q := range queries {
		if !strings.Contains(q, "limit=") {
			t.Errorf("query without limit: %q", q)
		}
	}
	if queries[0] != "limit=3" || queries[3] != "limit=20&state=all" {
		t.Errorf("queries = %q", queries)
	}
	if r := e.Run("alerts", "list", "-o", "json"); len(clitest.JSON[[]api.Alert](t, r)) != 3 || !strings.Contains(r.Stderr, "more: use --all") {
		t.Errorf("open alerts: %s\nstderr %q", r.Stdout, r.Stderr)
	}
	if got := clitest.JSON[[]api.Alert](t, e.Run("alerts", "list", "--all", "-o", "json")); len(got) != 4 || got[3].AckedAt == nil {
		t.Errorf("--all = %+v", got)
	}
}

func TestAck(t *testing.T) {
	t.Parallel()
	e := stub(t, nil)
	const id = "alert_01jd0000000000000000000003"
	r := e.Run("alerts", "ack", id).Want(t, 0)
	if r.Stdout != "" || r.Stderr != "Acknowledged alert "+id+"\n" {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	js := e.Run("alerts", "ack", id, "-o", "json").Want(t, 0)
	if a := clitest.JSON[api.Alert](t, js); a.ID != id || a.AckedAt == nil {
		t.Fatalf("acked = %+v", a)
	}
	clitest.Golden(t, "ack_json", clitest.Normalize(js.Stdout))
	if r := e.Run("alerts", "ack", id, "-q"); r.Stderr != "" {
		t.Fatalf("-q: %q", r.Stderr)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	e := stub(t, nil)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"alerts", "ack", "alert_01jdzzzzzzzzzzzzzzzzzzzzzz"}, 3},
		{[]string{"alerts", "ack"}, 2},
		{[]string{"alerts", "list", "--limit", "0"}, 2},
		{[]string{"alerts", "list", "--open"}, 2},
	} {
		if r := e.Run(c.args...); r.Code != c.code || r.Stdout != "" {
			t.Errorf("%v: exit %d, want %d\nstdout %q\nstderr %q", c.args, r.Code, c.code, r.Stdout, r.Stderr)
		}
	}
	forbidden := clitest.Reply{Status: http.StatusForbidden, Body: api.NewProblem(api.CodeForbidden, "this key lacks the usage:read scope")}
	f := clitest.NewStub(t, clitest.Routes{"GET /v1/alerts": forbidden, "POST /v1/alerts/{id}/ack": forbidden})
	f.Run("alerts", "list").Want(t, 4)
	f.Run("alerts", "ack", "alert_1").Want(t, 4)
}

func TestCompleteIDs(t *testing.T) {
	t.Parallel()
	e := stub(t, nil)
	r := e.Run("__complete", "alerts", "ack", "").Want(t, 0)
	want := "alert_01jd0000000000000000000004\tapi_calls 950/h is 7.9x the baseline (120.5/h)\n" +
		"alert_01jd0000000000000000000003\texecution_seconds at 110% of the monthly quota\n" +
		"alert_01jd0000000000000000000002\tspend at 80% of the monthly cap\n:4\n"
	if r.Stdout != want {
		t.Fatalf("completion:\n%q\nwant\n%q", r.Stdout, want)
	}
	if r := e.Run("__complete", "alerts", "ack", "alert_01jd0000000000000000000003", ""); r.Stdout != ":4\n" {
		t.Fatalf("second argument: %q", r.Stdout)
	}
}

// TestWidths: every table of `baton alerts` at 80 and 120 columns, with its
// ids whole (issue 16 row 1).
func TestWidths(t *testing.T) {
	t.Parallel()
	var q []string
	e := stub(t, &q)
	e.GoldenWidths(t, "alerts_list", "alerts", "list")
}

// TestTaskBudgetAlert: a task budget alert lists with the task as its
// period and its spend and budget in dollars.
func TestTaskBudgetAlert(t *testing.T) {
	t.Parallel()
	a := api.Alert{ID: "alert_01jd0000000000000000000009", WorkspaceID: "ws_01jd0000000000000000000001", Kind: api.AlertThreshold,
		Metric: api.AlertMetricTaskBudget, Threshold: 100, Period: "task_01jd0000000000000000000007", Value: 60_000, Limit: 50_000,
		Message:   "task task_01jd0000000000000000000007 (queue default) at 120% of its budget: $0.06 of $0.05, its children included",
		CreatedAt: clitest.At(-time.Minute)}
	e := clitest.NewStub(t, clitest.Routes{"GET /v1/alerts": clitest.Reply{Status: http.StatusOK, Body: api.List[api.Alert]{Data: []api.Alert{a}}}})
	piped := e.Run("alerts", "list").Want(t, 0).Stdout
	if !strings.Contains(piped, "\tthreshold\ttask_budget\t100\ttask_01jd0000000000000000000007\t0.06\t0.05\ttask task_01jd") {
		t.Errorf("piped:\n%s", piped)
	}
	tty := e.TTYWidth(250, "alerts", "list").Want(t, 0).Stdout
	for _, want := range []string{"task_budget", "100%", "task_01jd0000000000000000000007", "$0.06", "$0.05"} {
		if !strings.Contains(tty, want) {
			t.Errorf("terminal table lacks %q:\n%s", want, tty)
		}
	}
}
