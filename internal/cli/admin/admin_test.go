package admin_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/admin"
	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

func TestCostsFlags(t *testing.T) {
	var got *admin.CostsOptions
	run := func(_ context.Context, o *admin.CostsOptions) error { got = o; return nil }
	if err := clitest.Parse(admin.NewCmdCosts(clitest.Factory(false), run)); err != nil || got.Period != "" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	if err := clitest.Parse(admin.NewCmdCosts(clitest.Factory(false), run), "--period", "2026-10"); err != nil || got.Period != "2026-10" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	for _, bad := range []string{"", "2026-13", "2026-00", "2026-1", "26-10", "2026-10-01", "october", "2026/10", " 2026-10"} {
		clitest.WantFlagError(t, clitest.Parse(admin.NewCmdCosts(clitest.Factory(false), run), "--period", bad))
	}
	clitest.WantFlagError(t, clitest.Parse(admin.NewCmdCosts(clitest.Factory(false), run), "ws_1"))
}

func TestUsageFlags(t *testing.T) {
	called := false
	run := func(context.Context, *admin.UsageOptions) error { called = true; return nil }
	if err := clitest.Parse(admin.NewCmdUsage(clitest.Factory(false), run)); err != nil || !called {
		t.Fatalf("err %v, called %v", err, called)
	}
	clitest.WantFlagError(t, clitest.Parse(admin.NewCmdUsage(clitest.Factory(false), run), "ws_1"))
}

func ptr[T any](v T) *T { return &v }

// stubCosts is a seeded cost report for 2026-11, worst margin first as the
// server sends it. By hand (margin = revenue − cost, margin % = margin /
// revenue × 100):
//
//	acme    starter  revenue  49.00  cost 21.23 + 40.00 = 61.23  margin −12.23  −12.23/49    = −24.959… → −24.96 %
//	freebie free     revenue   0.00  cost  0.75 +  0.00 =  0.75  margin  −0.75  no revenue → no margin %
//	globex  pro      revenue 199.00  cost 35.10 + 24.40 = 59.50  margin 139.50  139.50/199   =  70.100… →  70.10 %
//	total            revenue 248.00  cost 57.08 + 64.40 = 121.48 margin 126.52  126.52/248   =  51.016… →  51.02 %
//
// acme and freebie are negative.
func stubCosts() api.CostReport {
	row := func(id, name, tier string, revenue, compute, agent int64) api.WorkspaceCost {
		w := api.WorkspaceCost{WorkspaceID: id, WorkspaceName: name, Tier: tier, RevenueMicros: revenue,
			ComputeCostMicros: compute, AgentCostMicros: agent, CostMicros: compute + agent}
		w.MarginMicros = w.RevenueMicros - w.CostMicros
		if revenue != 0 {
			w.MarginPercent = ptr(float64(w.MarginMicros) / float64(revenue) * 100)
		}
		w.Negative = w.MarginMicros < 0
		return w
	}
	r := api.CostReport{Period: "2026-11", Data: []api.WorkspaceCost{
		row("ws_01jd0000000000000000000001", "acme", "starter", 49_000_000, 21_230_000, 40_000_000),
		row("ws_01jd0000000000000000000002", "freebie", "free", 0, 750_000, 0),
		row("ws_01jd0000000000000000000003", "globex", "pro", 199_000_000, 35_100_000, 24_400_000),
	}}
	r.Data[0].ExecutionMS, r.Data[0].APICalls = 76_428_000, 120_000
	r.Totals = row("", "", "", 248_000_000, 57_080_000, 64_400_000)
	return r
}

func TestCostsSeed(t *testing.T) {
	// The stub holds the numbers the comment above works out by hand.
	r := stubCosts()
	for i, want := range []struct {
		margin int64
		pct    float64
		nilPct bool
	}{{-12_230_000, -24.96, false}, {-750_000, 0, true}, {139_500_000, 70.10, false}} {
		w := r.Data[i]
		if w.MarginMicros != want.margin || (w.MarginPercent == nil) != want.nilPct ||
			(!want.nilPct && math.Round(*w.MarginPercent*100)/100 != want.pct) {
			t.Errorf("%s: margin %d %v, want %d %v", w.WorkspaceName, w.MarginMicros, w.MarginPercent, want.margin, want.pct)
		}
	}
	if r.Totals.CostMicros != 121_480_000 || r.Totals.MarginMicros != 126_520_000 || math.Round(*r.Totals.MarginPercent*100)/100 != 51.02 {
		t.Errorf("totals = %+v", r.Totals)
	}
}

func day(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

// stubUsage is every workspace's quota, closest to a limit first: acme
// past its execution seconds (110 %), globex near its spend cap, freebie
// idle.
func stubUsage() []api.Quota {
	q := func(id, name, tier string, ms ...api.QuotaMetric) api.Quota {
		return api.Quota{WorkspaceID: id, WorkspaceName: name, Tier: tier, Status: "active", Period: "2026-11",
			PeriodStart: day(1), PeriodEnd: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Metrics: ms}
	}
	m := func(name string, used, limit int64) api.QuotaMetric {
		qm := api.QuotaMetric{Name: name, Used: used, Limit: limit, Remaining: max(limit-used, 0)}
		if limit > 0 {
			qm.Percent = math.Round(float64(used)/float64(limit)*1000) / 10
		}
		return qm
	}
	return []api.Quota{
		q("ws_01jd0000000000000000000001", "acme", "starter", m(api.QuotaTaskExecutions, 812, 1000), m(api.QuotaExecutionSeconds, 3960, 3600),
			m(api.QuotaSpend, 17_500_000, 20_000_000), api.QuotaMetric{Name: api.QuotaAPIRate, Used: 12, Unlimited: true}, m(api.QuotaConcurrency, 2, 5)),
		q("ws_01jd0000000000000000000003", "globex", "pro", m(api.QuotaTaskExecutions, 2_500, 10_000), m(api.QuotaExecutionSeconds, 7_200, 36_000),
			m(api.QuotaSpend, 170_000_000, 200_000_000), m(api.QuotaAPIRate, 30, 600), m(api.QuotaConcurrency, 9, 20)),
		q("ws_01jd0000000000000000000002", "freebie", "free", m(api.QuotaTaskExecutions, 3, 100), m(api.QuotaExecutionSeconds, 45, 600),
			m(api.QuotaSpend, 0, 1_000_000), m(api.QuotaAPIRate, 0, 60), m(api.QuotaConcurrency, 0, 1)),
	}
}

func stub(t *testing.T, query *string) *clitest.Env {
	costs := stubCosts()
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/admin/costs": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if query != nil {
				*query = r.URL.RawQuery
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(costs)
		}),
		"GET /v1/admin/usage": api.List[api.Quota]{Data: stubUsage()},
	}.Shared())
}

func TestCostsGolden(t *testing.T) {
	t.Parallel()
	var query string
	e := stub(t, &query)
	r := e.TTYWidth(160, "admin", "costs").Want(t, 0)
	clitest.Golden(t, "costs_tty", r.Stdout+"--- stderr\n"+r.Stderr)
	if query != "" {
		t.Errorf("query without --period: %q", query)
	}
	piped := e.Run("admin", "costs", "--period", "2026-11").Want(t, 0)
	clitest.Golden(t, "costs_piped", piped.Stdout)
	if query != "period=2026-11" {
		t.Errorf("query %q", query)
	}
	clitest.Golden(t, "costs_csv", e.Run("admin", "costs", "-o", "csv").Want(t, 0).Stdout)
	js := e.Run("admin", "costs", "-o", "json").Want(t, 0)
	clitest.Golden(t, "costs_json", js.Stdout)
	if got := clitest.JSON[[]api.WorkspaceCost](t, js); len(got) != 3 || got[0].MarginMicros != -12_230_000 {
		t.Fatalf("json = %+v", got)
	}
	if rows := strings.Split(strings.TrimSpace(e.Run("admin", "costs", "-o", "jsonl").Want(t, 0).Stdout), "\n"); len(rows) != 3 {
		t.Fatalf("jsonl: %d rows, want one per workspace", len(rows))
	}

	// The hand-computed margins, as a person reads them: worst first,
	// negative ones flagged, and the totals row.
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	for i, want := range [][]string{
		{"WORKSPACE", "NAME", "TIER", "REVENUE USD", "COST USD", "MARGIN USD", "MARGIN %", "FLAG"},
		{"ws_01jd0000000000000000000001", "acme", "starter", "49.00", "61.23", "-12.23", "-24.96%", "negative"},
		{"ws_01jd0000000000000000000002", "freebie", "free", "0.00", "0.75", "-0.75", "-", "negative"},
		{"ws_01jd0000000000000000000003", "globex", "pro", "199.00", "59.50", "139.50", "70.10%"},
		{"total", "248.00", "121.48", "126.52", "51.02%"},
	} {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("line %d = %q, want %q", i, got, want)
		}
	}
	// Piped, amounts are exact and there is no totals row.
	if !strings.Contains(piped.Stdout, "\t49\t61.23\t-12.23\t-24.96\tnegative\n") || strings.Contains(piped.Stdout, "total") {
		t.Errorf("piped:\n%s", piped.Stdout)
	}
}

func TestUsageGolden(t *testing.T) {
	t.Parallel()
	e := stub(t, nil)
	r := e.TTYWidth(160, "admin", "usage").Want(t, 0)
	clitest.Golden(t, "usage_tty", r.Stdout)
	clitest.Golden(t, "usage_piped", e.Run("admin", "usage").Want(t, 0).Stdout)
	clitest.Golden(t, "usage_csv", e.Run("admin", "usage", "-o", "csv").Want(t, 0).Stdout)
	js := e.Run("admin", "usage", "-o", "json").Want(t, 0)
	clitest.Golden(t, "usage_json", js.Stdout)
	if got := clitest.JSON[[]api.Quota](t, js); len(got) != 3 || got[0].MaxPercent() != 110 {
		t.Fatalf("json = %+v", got)
	}
	if !strings.Contains(r.Stdout, "1h6m/1h (110.0%)") || !strings.Contains(r.Stdout, "170.00/200.00 (85.0%)") {
		t.Fatalf("tty:\n%s", r.Stdout)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	forbidden := clitest.Reply{Status: http.StatusForbidden, Body: api.NewProblem(api.CodeForbidden, "an operator key is required")}
	e := clitest.NewStub(t, clitest.Routes{"GET /v1/admin/costs": forbidden, "GET /v1/admin/usage": forbidden})
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"admin", "costs"}, 4},
		{[]string{"admin", "usage"}, 4},
		{[]string{"admin", "costs", "--period", "2026-13"}, 2},
		{[]string{"admin", "costs", "--period", "last"}, 2},
		{[]string{"admin", "usage", "--all"}, 2},
	} {
		if r := e.Run(c.args...); r.Code != c.code || r.Stdout != "" {
			t.Errorf("%v: exit %d, want %d\nstdout %q\nstderr %q", c.args, r.Code, c.code, r.Stdout, r.Stderr)
		}
	}
}

func TestColour(t *testing.T) {
	tbl := admin.CostsTable(stubCosts(), true, true)
	if got := tbl.Rows[0][5:]; got[0] != "\x1b[31m-12.23\x1b[0m" || got[1] != "\x1b[31m-24.96%\x1b[0m" || got[2] != "\x1b[31mnegative\x1b[0m" {
		t.Errorf("negative row = %q", got)
	}
	if got := tbl.Rows[2][5:]; got[0] != "139.50" || got[2] != "" {
		t.Errorf("positive row = %q", got)
	}
	// Without colour (piped, --no-color, NO_COLOR) nothing is painted.
	for _, row := range admin.CostsTable(stubCosts(), true, false).Rows {
		for _, c := range row {
			if strings.Contains(c, "\x1b") {
				t.Fatalf("colour without a terminal: %q", row)
			}
		}
	}
	u := admin.UsageTable(stubUsage(), true, true)
	if got := u.Rows[0][4]; got != "1h6m/1h (\x1b[31m110.0%\x1b[0m)" {
		t.Errorf("over quota cell = %q", got)
	}
}

// TestWidths: every table of `baton admin` at 80 and 120 columns, with its
// ids whole (issue 16 row 1).
func TestWidths(t *testing.T) {
	t.Parallel()
	var q string
	e := stub(t, &q)
	e.GoldenWidths(t, "admin_costs", "admin", "costs")
	e.GoldenWidths(t, "admin_usage", "admin", "usage")
}
