package tiers_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/pkg/api"
)

func TestListFlags(t *testing.T) {
	called := false
	run := func(context.Context, *tiers.ListOptions) error { called = true; return nil }
	if err := clitest.Parse(tiers.NewCmdList(clitest.Factory(false), run)); err != nil || !called {
		t.Fatalf("err %v, called %v", err, called)
	}
	clitest.WantFlagError(t, clitest.Parse(tiers.NewCmdList(clitest.Factory(false), run), "pro"))
}

func TestUSD(t *testing.T) {
	for micros, want := range map[int64]string{
		0: "0.00", 49_000_000: "49.00", 12_345_000: "12.35", 12_344_999: "12.34", 5_000: "0.01", 4_999: "0.00",
		1: "0.00", -1_500_000: "-1.50", -4_999: "0.00", 2_000_000_000: "2000.00", 999_995_000: "1000.00",
		math.MaxInt64: "9223372036854.78", math.MinInt64: "-9223372036854.78",
	} {
		if got := tiers.USD(micros); got != want {
			t.Errorf("USD(%d) = %q, want %q", micros, got, want)
		}
	}
}

func TestSeconds(t *testing.T) {
	for s, want := range map[int64]string{0: "0s", 45: "45s", 300: "5m", 3600: "1h", 5400: "1h30m", 21_600: "6h", 90_000: "1d1h", 86_461: "1d1m1s", -60: "-1m"} {
		if got := tiers.Seconds(s); got != want {
			t.Errorf("Seconds(%d) = %q, want %q", s, got, want)
		}
	}
}

func TestLimitValue(t *testing.T) {
	for _, c := range []struct {
		key  string
		v    int64
		want string
	}{
		{api.LimitMonthlySpendMicros, 200_000_000, "200.00"},
		{api.LimitMaxTaskDurationSeconds, 3600, "1h"},
		{api.LimitMonthlyExecutionSeconds, 3600, "3600"},
		{api.LimitBurst, 20, "20"},
	} {
		if got := tiers.LimitValue(c.key, c.v); got != c.want {
			t.Errorf("LimitValue(%s, %d) = %q, want %q", c.key, c.v, got, c.want)
		}
	}
	keys := strings.Join(tiers.CLILimitKeys(), " ")
	if !strings.Contains(keys, " monthly_spend_usd") || strings.Contains(keys, "micros") || !strings.HasSuffix(keys, " max_open_streams") {
		t.Fatalf("CLILimitKeys = %s", keys)
	}
}

// The default tiers have no ids or times, so the real server's answer is
// stable enough for golden files.
func TestListGolden(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	e.GoldenWidths(t, "tiers_list", "tiers", "list") // 80 and 120 columns: no header cut, no line wrapped
	clitest.Golden(t, "list_piped", e.Run("tiers", "list").Want(t, 0).Stdout)
	clitest.Golden(t, "list_json", e.Run("tiers", "list", "-o", "json").Want(t, 0).Stdout)
	clitest.Golden(t, "list_csv", e.Run("tiers", "list", "-o", "csv").Want(t, 0).Stdout)
}

func TestList(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ts := clitest.JSON[[]api.Tier](t, e.Run("tiers", "list", "-o", "json").Want(t, 0))
	if len(ts) != 3 || ts[1].Name != "pro" || ts[1].PriceMonthlyMicro != 49_000_000 {
		t.Fatalf("tiers = %+v", ts)
	}
	r := e.RunAs("", "tiers", "list").Want(t, 4) // not logged in
	if r.Stdout != "" || !strings.Contains(r.Stderr, "not logged in") {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	e.Run("tiers", "list", "-o", "xml").Want(t, 2)
}

func TestCompleteNames(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	r := e.Run("__complete", "workspaces", "create", "acme", "--tier", "p").Want(t, 0)
	if !strings.HasPrefix(r.Stdout, "pro\n:4\n") {
		t.Fatalf("completion: %q", r.Stdout)
	}
	// Without a key the built-in names are offered.
	r = e.RunAs("", "__complete", "workspaces", "update", "ws_1", "--tier", "").Want(t, 0)
	if !strings.HasPrefix(r.Stdout, "free\npro\nteam\n:4\n") {
		t.Fatalf("fallback completion: %q", r.Stdout)
	}
}
