package workspaces_test

import (
	"context"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/cli/workspaces"
	"github.com/genericcorp/baton/pkg/api"
)

func TestCreateFlags(t *testing.T) {
	var got *workspaces.CreateOptions
	run := func(_ context.Context, o *workspaces.CreateOptions) error { got = o; return nil }
	if err := clitest.Parse(workspaces.NewCmdCreate(clitest.Factory(false), run), "acme", "--tier", "pro"); err != nil {
		t.Fatal(err)
	}
	if got.Name != "acme" || got.Tier != "pro" {
		t.Fatalf("options = %+v", got)
	}
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdCreate(clitest.Factory(false), run)))
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdCreate(clitest.Factory(false), run), " "))
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdCreate(clitest.Factory(false), run), "a", "b"))
}

func TestListFlags(t *testing.T) {
	var got *workspaces.ListOptions
	run := func(_ context.Context, o *workspaces.ListOptions) error { got = o; return nil }
	if err := clitest.Parse(workspaces.NewCmdList(clitest.Factory(false), run)); err != nil || got.Limit != 20 || got.All {
		t.Fatalf("err %v, defaults %+v", err, got)
	}
	if err := clitest.Parse(workspaces.NewCmdList(clitest.Factory(false), run), "--limit", "5", "--all"); err != nil || got.Limit != 5 || !got.All {
		t.Fatalf("err %v, options %+v", err, got)
	}
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdList(clitest.Factory(false), run), "--limit", "0"))
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdList(clitest.Factory(false), run), "--limit", "101"))
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdList(clitest.Factory(false), run), "extra"))
}

func TestGetFlags(t *testing.T) {
	var got *workspaces.GetOptions
	run := func(_ context.Context, o *workspaces.GetOptions) error { got = o; return nil }
	if err := clitest.Parse(workspaces.NewCmdGet(clitest.Factory(false), run), "ws_1"); err != nil || got.ID != "ws_1" {
		t.Fatalf("err %v, options %+v", err, got)
	}
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdGet(clitest.Factory(false), run)))
}

func TestUpdateFlags(t *testing.T) {
	var got *workspaces.UpdateOptions
	run := func(_ context.Context, o *workspaces.UpdateOptions) error { got = o; return nil }
	parse := func(args ...string) error {
		got = nil
		return clitest.Parse(workspaces.NewCmdUpdate(clitest.Factory(false), run), append([]string{"ws_1"}, args...)...)
	}

	err := parse("--tier", "team", "--name", "acme2", "--set", "monthly_spend_usd=12.50", "--set", "max_concurrent_tasks=20",
		"--unset", "burst", "--suspend")
	if err != nil {
		t.Fatal(err)
	}
	req := got.Request
	if got.ID != "ws_1" || *req.Tier != "team" || *req.Name != "acme2" || *req.Status != api.WorkspaceSuspended {
		t.Fatalf("request = %+v", req)
	}
	if len(req.Overrides) != 3 || *req.Overrides[api.LimitMonthlySpendMicros] != 12_500_000 ||
		*req.Overrides[api.LimitMaxConcurrentTasks] != 20 || req.Overrides[api.LimitBurst] != nil {
		t.Fatalf("overrides = %+v", req.Overrides)
	}
	if _, ok := req.Overrides[api.LimitBurst]; !ok {
		t.Fatal("--unset burst is not in the request")
	}

	if err := parse("--resume"); err != nil || *got.Request.Status != api.WorkspaceActive || got.Request.Tier != nil || got.Request.Overrides != nil {
		t.Fatalf("--resume: err %v, request %+v", err, got.Request)
	}
	// Money is parsed exactly: no float drift.
	for in, want := range map[string]int64{"0.1": 100_000, "19.99": 19_990_000, "0.000001": 1, "5": 5_000_000, "1000000.01": 1_000_000_010_000} {
		if err := parse("--set", "monthly_spend_usd="+in); err != nil || *got.Request.Overrides[api.LimitMonthlySpendMicros] != want {
			t.Errorf("monthly_spend_usd=%s: err %v, got %v, want %d", in, err, got, want)
		}
	}

	for name, args := range map[string][]string{
		"nothing":           {},
		"unknown key":       {"--set", "cpus=2"},
		"api money key":     {"--set", "monthly_spend_micros=5"},
		"no equals":         {"--set", "burst"},
		"not a number":      {"--set", "burst=lots"},
		"negative":          {"--set", "burst=-1"},
		"fraction":          {"--set", "burst=1.5"},
		"too precise money": {"--set", "monthly_spend_usd=0.0000001"},
		"negative money":    {"--set", "monthly_spend_usd=-1"},
		"unknown unset":     {"--unset", "cpus"},
		"set and unset":     {"--set", "burst=1", "--unset", "burst"},
		"set twice":         {"--set", "burst=1", "--set", "burst=2"},
	} {
		t.Run(name, func(t *testing.T) {
			err := parse(args...)
			clitest.WantFlagError(t, err)
			if strings.HasPrefix(name, "unknown") && !strings.Contains(err.Error(), "valid keys are requests_per_minute, burst,") {
				t.Errorf("error does not list the keys: %v", err)
			}
		})
	}
	if err := parse("--suspend", "--resume"); err == nil || !strings.Contains(err.Error(), "none of the others can be") {
		t.Fatalf("--suspend --resume: %v", err)
	}
}

func TestDeleteFlags(t *testing.T) {
	var got *workspaces.DeleteOptions
	run := func(_ context.Context, o *workspaces.DeleteOptions) error { got = o; return nil }
	clitest.WantFlagError(t, clitest.Parse(workspaces.NewCmdDelete(clitest.Factory(false), run), "ws_1"))
	if err := clitest.Parse(workspaces.NewCmdDelete(clitest.Factory(false), run), "ws_1", "-y"); err != nil || !got.Yes {
		t.Fatalf("err %v, options %+v", err, got)
	}
	if err := clitest.Parse(workspaces.NewCmdDelete(clitest.Factory(true), run), "ws_2"); err != nil || got.Yes || got.ID != "ws_2" {
		t.Fatalf("err %v, options %+v", err, got)
	}
}
