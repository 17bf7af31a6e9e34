package usage_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

func day(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }

// stubSeries is a usage report over three days of November 2026, the 2nd
// without any usage (absent, as the server leaves empty buckets out) and
// the 4th with API calls only. Totals are the sums by hand:
// api_calls 1200+340+15 = 1555, task_executions 42+7 = 49,
// execution_ms 5400250+61000 = 5461250 (1h31m1.25s), tokens 120000+8000
// = 128000, cost_micros 3456789+1100 = 3457889 ($3.4579).
func stubSeries() api.UsageSeries {
	return api.UsageSeries{
		WorkspaceID: "ws_01jd0000000000000000000001", From: day(1), To: day(5), Granularity: "day",
		Series: map[string][]api.UsagePoint{
			api.MetricAPICalls:       {{Start: day(1), Value: 1200}, {Start: day(3), Value: 340}, {Start: day(4), Value: 15}},
			api.MetricTaskExecutions: {{Start: day(1), Value: 42}, {Start: day(3), Value: 7}},
			api.MetricExecutionMS:    {{Start: day(1), Value: 5_400_250}, {Start: day(3), Value: 61_000}},
			api.MetricTokens:         {{Start: day(1), Value: 120_000}, {Start: day(3), Value: 8_000}},
			api.MetricCostMicros:     {{Start: day(1), Value: 3_456_789}, {Start: day(3), Value: 1_100}},
		},
		Totals: map[string]int64{api.MetricAPICalls: 1555, api.MetricTaskExecutions: 49, api.MetricExecutionMS: 5_461_250,
			api.MetricTokens: 128_000, api.MetricCostMicros: 3_457_889},
	}
}

// stubQuota is a workspace over its execution-seconds quota (overshoot),
// near its spend cap, with unlimited API rate.
func stubQuota() api.Quota {
	return api.Quota{
		WorkspaceID: "ws_01jd0000000000000000000001", WorkspaceName: "acme", Tier: "starter", Status: "active",
		Period: "2026-11", PeriodStart: day(1), PeriodEnd: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), ResetsIn: 91_830,
		Metrics: []api.QuotaMetric{
			{Name: api.QuotaTaskExecutions, Used: 812, Limit: 1000, Remaining: 188, Percent: 81.2, Enforced: true},
			{Name: api.QuotaExecutionSeconds, Used: 3_960, Limit: 3_600, Remaining: 0, Percent: 110, Enforced: true},
			{Name: api.QuotaSpend, Used: 17_500_000, Limit: 20_000_000, Remaining: 2_500_000, Percent: 87.5, Enforced: true},
			{Name: api.QuotaAPIRate, Used: 12, Unlimited: true},
			{Name: api.QuotaConcurrency, Used: 2, Limit: 5, Remaining: 3, Percent: 40},
			{Name: api.QuotaQueued, Used: 9, Limit: 100, Remaining: 91, Percent: 9},
		},
		APICalls: 1555, Tokens: 128_000, Running: 2, Queued: 9, Held: 9,
		Exceeded: []string{api.QuotaExecutionSeconds}, At: time.Date(2026, 11, 28, 22, 29, 30, 0, time.UTC),
	}
}

func stub(t *testing.T, gotQuery *string) *clitest.Env {
	series := stubSeries()
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/usage": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if gotQuery != nil {
				*gotQuery = r.URL.RawQuery
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(series)
		}),
		"GET /v1/usage/quota": stubQuota(),
	}.Shared())
}

func TestReportGolden(t *testing.T) {
	t.Parallel()
	e := stub(t, nil)
	args := []string{"usage", "report", "--from", "2026-11-01", "--to", "2026-11-04"}
	r := e.TTY(args...).Want(t, 0)
	clitest.Golden(t, "report_tty", r.Stdout+"--- stderr\n"+r.Stderr)
	clitest.Golden(t, "report_piped", e.Run(args...).Want(t, 0).Stdout)
	clitest.Golden(t, "report_csv", e.Run(append(args, "-o", "csv")...).Want(t, 0).Stdout)
	js := e.Run(append(args, "-o", "json")...).Want(t, 0)
	clitest.Golden(t, "report_json", js.Stdout)
	if got := clitest.JSON[api.UsageSeries](t, js); got.Totals[api.MetricCostMicros] != 3_457_889 || len(got.Series) != 5 {
		t.Fatalf("json = %+v", got)
	}
}

func TestReportQuery(t *testing.T) {
	t.Parallel()
	var q string
	e := stub(t, &q)
	e.Run("usage", "report", "--from", "2026-11-01", "--to", "2026-11-03", "--by", "hour").Want(t, 0)
	if q != "from=2026-11-01T00%3A00%3A00Z&granularity=hour&to=2026-11-04T00%3A00%3A00Z" {
		t.Fatalf("query %q", q)
	}
	// By default: from the start of this month (UTC), to now (not sent), by day.
	e.Run("usage", "report").Want(t, 0)
	start := time.Now().UTC()
	want := "from=" + time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC).Format("2006-01-02T15") + "%3A00%3A00Z&granularity=day"
	if q != want {
		t.Fatalf("default query %q, want %q", q, want)
	}
}

func TestQuotaGolden(t *testing.T) {
	t.Parallel()
	e := stub(t, nil)
	r := e.TTY("usage", "quota").Want(t, 0)
	clitest.Golden(t, "quota_tty", r.Stdout+"--- stderr\n"+r.Stderr)
	piped := e.Run("usage", "quota").Want(t, 0)
	clitest.Golden(t, "quota_piped", piped.Stdout+"--- stderr\n"+piped.Stderr)
	js := e.Run("usage", "quota", "-o", "json").Want(t, 0)
	clitest.Golden(t, "quota_json", js.Stdout)
	if js.Stderr != "" {
		t.Fatalf("json stderr: %q", js.Stderr)
	}
	if got := clitest.JSON[api.Quota](t, js); len(got.Exceeded) != 1 || got.MaxPercent() != 110 {
		t.Fatalf("json = %+v", got)
	}
	// Exceeded quotas do not change the exit status; -q drops the summary.
	if r := e.Run("usage", "quota", "-q"); r.Code != 0 || r.Stderr != "" {
		t.Fatalf("-q: exit %d stderr %q", r.Code, r.Stderr)
	}
	// Overshoot is shown past 100 %.
	if !strings.Contains(r.Stdout, "110.0%") || !strings.Contains(r.Stdout, "exceeded:     execution_seconds") {
		t.Fatalf("tty:\n%s", r.Stdout)
	}
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	forbidden := clitest.Reply{Status: http.StatusForbidden, Body: api.NewProblem(api.CodeForbidden, "this key lacks the usage:read scope")}
	e := clitest.NewStub(t, clitest.Routes{
		"GET /v1/usage":       forbidden,
		"GET /v1/usage/quota": clitest.Reply{Status: http.StatusUnauthorized, Body: api.NewProblem(api.CodeUnauthenticated, "unknown key")},
	})
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"usage", "report"}, 4},
		{[]string{"usage", "quota"}, 4},
		{[]string{"usage", "report", "--by", "week"}, 2},
		{[]string{"usage", "report", "--from", "soon"}, 2},
		{[]string{"usage", "report", "--bogus"}, 2},
		{[]string{"usage", "quota", "extra"}, 2},
	} {
		if r := e.Run(c.args...); r.Code != c.code || r.Stdout != "" {
			t.Errorf("%v: exit %d, want %d\nstdout %q\nstderr %q", c.args, r.Code, c.code, r.Stdout, r.Stderr)
		}
	}
	// Without a key: exit 4 before any request.
	r := e.Exec(clitest.Invocation{Args: []string{"usage", "quota"}, Env: map[string]string{"BATON_API_KEY": ""}})
	if r.Code != 4 {
		t.Fatalf("no key: exit %d\n%s", r.Code, r.Stderr)
	}
}

// TestWidths: every table of `baton usage` at 80 and 120 columns, with its
// ids whole (issue 16 row 1).
func TestWidths(t *testing.T) {
	t.Parallel()
	var q string
	e := stub(t, &q)
	e.GoldenWidths(t, "usage_quota", "usage", "quota")
	e.GoldenWidths(t, "usage_report", "usage", "report", "--from", "2026-11-01", "--to", "2026-11-04")
}
