package usage_test

import (
	"context"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/usage"
)

// now is the fixed clock of the flag tests: 2026-11-28 22:30 UTC.
var now = time.Date(2026, 11, 28, 22, 30, 0, 0, time.UTC)

func factory() *cmdutil.Factory {
	f := clitest.Factory(false)
	f.Now = func() time.Time { return now }
	return f
}

func TestReportFlags(t *testing.T) {
	var got *usage.ReportOptions
	run := func(_ context.Context, o *usage.ReportOptions) error { got = o; return nil }
	parse := func(args ...string) error { return clitest.Parse(usage.NewCmdReport(factory(), run), args...) }

	for _, c := range []struct {
		name       string
		args       []string
		start, end time.Time
		by         string
	}{
		// Default: the current billing period (calendar month, UTC) to now
		// (a zero end: the server's now), by day.
		{"defaults", nil, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Time{}, "day"},
		{"dates", []string{"--from", "2026-10-01", "--to", "2026-10-31", "--by", "hour"},
			time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "hour"},
		{"one day", []string{"--from", "2026-11-03", "--to", "2026-11-03"},
			time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC), "day"},
		{"relative", []string{"--from", "7d", "--to", "24h"}, now.Add(-7 * 24 * time.Hour), now.Add(-24 * time.Hour), "day"},
		{"rfc3339", []string{"--from", "2026-11-20T10:00:00+02:00", "--to", "now", "--by", "day"},
			time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC), now, "day"},
		{"minutes", []string{"--from", "90m"}, now.Add(-90 * time.Minute), time.Time{}, "day"},
		// Only --to: the range starts at the beginning of --to's month.
		{"only to", []string{"--to", "2026-10-15"}, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 16, 0, 0, 0, 0, time.UTC), "day"},
		{"to at month start", []string{"--to", "2026-11-01T00:00:00Z"}, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), "day"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := parse(c.args...); err != nil {
				t.Fatal(err)
			}
			if !got.Start.Equal(c.start) || !got.End.Equal(c.end) || got.By != c.by {
				t.Fatalf("start %v end %v by %q, want %v %v %q", got.Start, got.End, got.By, c.start, c.end, c.by)
			}
		})
	}

	for name, args := range map[string][]string{
		"bad by":        {"--by", "week"},
		"empty by":      {"--by", ""},
		"bad from":      {"--from", "yesterday"},
		"bad to":        {"--to", "2026-13-01"},
		"negative":      {"--from", "-7d"},
		"half a day":    {"--from", "1.5d"},
		"empty from":    {"--from", ""},
		"reversed":      {"--from", "2026-11-10", "--to", "2026-11-01"},
		"empty range":   {"--from", "2026-11-10T00:00:00Z", "--to", "2026-11-10T00:00:00Z"},
		"future from":   {"--from", "2026-12-01"},
		"from now":      {"--from", "now"},
		"before period": {"--to", "2026-11-01", "--from", "2026-11-02"},
		"argument":      {"extra"},
		"unknown flag":  {"--granularity", "day"},
	} {
		t.Run(name, func(t *testing.T) {
			err := parse(args...)
			if name == "unknown flag" {
				if err == nil {
					t.Fatal("no error")
				}
				return // cobra's own usage error; exit 2 through cli.Run (see TestExitCodes)
			}
			clitest.WantFlagError(t, err)
		})
	}
}

func TestQuotaFlags(t *testing.T) {
	called := false
	run := func(context.Context, *usage.QuotaOptions) error { called = true; return nil }
	if err := clitest.Parse(usage.NewCmdQuota(factory(), run)); err != nil || !called {
		t.Fatalf("err %v, called %v", err, called)
	}
	clitest.WantFlagError(t, clitest.Parse(usage.NewCmdQuota(factory(), run), "ws_1"))
}

func TestParseTime(t *testing.T) {
	for _, c := range []struct {
		in       string
		endOfDay bool
		want     time.Time
	}{
		{"2026-11-01", false, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-11-01", true, time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)},
		{"2026-11-01T09:30:00Z", true, time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)},
		{"7d", false, now.AddDate(0, 0, -7)},
		{"0s", false, now},
		{"now", true, now},
	} {
		got, err := usage.ParseTime("--from", c.in, now, c.endOfDay)
		if err != nil || !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q, %v) = %v, %v; want %v", c.in, c.endOfDay, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "tomorrow", "2026-11", "2026-11-01 09:30", "-1h", "d"} {
		if _, err := usage.ParseTime("--from", bad, now, false); err == nil {
			t.Errorf("ParseTime(%q): no error", bad)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		name  string
		v     int64
		human bool
		want  string
	}{
		{"spend_micros", 12_345_678, true, "12.35"},
		{"spend_micros", 12_345_678, false, "12.345678"},
		{"cost_micros", 3_100, false, "0.0031"},
		{"execution_seconds", 5_400, true, "1h30m"},
		{"execution_seconds", 5_400, false, "5400"},
		{"execution_ms", 5_400_250, true, "1h30m"},
		{"execution_ms", 5_400_250, false, "5400.25"},
		{"execution_ms", 350, true, "350ms"},
		{"execution_ms", 0, true, "0s"},
		{"task_executions", 812, true, "812"},
	} {
		if got := usage.Quantity(c.name, c.v, c.human); got != c.want {
			t.Errorf("Quantity(%s, %d, %v) = %q, want %q", c.name, c.v, c.human, got, c.want)
		}
	}
	for p, want := range map[float64]string{0: "0.0%", 83.33: "83.3%", 100: "100.0%", 137.5: "137.5%"} {
		if got := usage.Percent(p, true); got != want {
			t.Errorf("Percent(%v) = %q, want %q", p, got, want)
		}
	}
	for micros, want := range map[int64]string{0: "0.0000", 3_100: "0.0031", 12_345_678: "12.3457", -50: "-0.0001", -49: "0.0000"} {
		if got := usage.USD4(micros); got != want {
			t.Errorf("USD4(%d) = %q, want %q", micros, got, want)
		}
	}
	for s, want := range map[int64]string{200_000: "2d7h", 5_430: "1h30m", 95: "1m35s", 0: "0s"} {
		if got := usage.Approx(s); got != want {
			t.Errorf("Approx(%d) = %q, want %q", s, got, want)
		}
	}
	if got := usage.Gauge(true, 100, "x"); got != "\x1b[31mx\x1b[0m" {
		t.Errorf("Gauge(100) = %q", got)
	}
	if got := usage.Gauge(true, 80, "x"); got != "\x1b[33mx\x1b[0m" {
		t.Errorf("Gauge(80) = %q", got)
	}
	if got := usage.Gauge(false, 120, "x"); got != "x" {
		t.Errorf("Gauge without colour = %q", got)
	}
}
