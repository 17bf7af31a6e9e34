package workspaces_test

import (
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

const day = 24 * time.Hour

// stubWorkspace is a fixed pro workspace with two overrides.
func stubWorkspace() api.Workspace {
	pro := config.DefaultTiers()["pro"]
	o := api.Overrides{api.LimitMonthlySpendMicros: 12_345_000, api.LimitMaxConcurrentTasks: 20}
	return api.Workspace{ID: "ws_01jd0000000000000000000001", Name: "acme", Tier: "pro", Status: api.WorkspaceActive,
		Overrides: o, Limits: pro.Limits.Apply(o), CreatedAt: clitest.At(-40*day - time.Hour), UpdatedAt: clitest.At(-2*time.Hour - 10*time.Minute)}
}

func stub(t *testing.T) *clitest.Env {
	w := stubWorkspace()
	free := config.DefaultTiers()["free"].Limits
	list := []api.Workspace{w,
		{ID: "ws_01jd0000000000000000000002", Name: "beta-industries", Tier: "free", Status: api.WorkspaceSuspended, Limits: free, CreatedAt: clitest.At(-3*day - time.Hour)},
		{ID: "ws_01jd0000000000000000000003", Name: "c", Tier: "team", Status: api.WorkspaceActive, Limits: config.DefaultTiers()["team"].Limits, CreatedAt: clitest.At(-5 * time.Minute)},
	}
	created := api.CreateWorkspaceResponse{
		Workspace: api.Workspace{ID: "ws_01jd0000000000000000000004", Name: "delta", Tier: "free", Status: api.WorkspaceActive, Overrides: api.Overrides{},
			Limits: free, CreatedAt: clitest.At(-30 * time.Second), UpdatedAt: clitest.At(-30 * time.Second)},
		Key: api.Key{ID: "key_01jd0000000000000000000004", WorkspaceID: "ws_01jd0000000000000000000004", Name: "default", Prefix: "bk_AbCd1234",
			Scopes: []string{"*"}, CreatedAt: clitest.At(-30 * time.Second), Secret: "bk_AbCd1234" + "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"},
	}
	next := "c2"
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/workspaces":        api.List[api.Workspace]{Data: list, NextCursor: &next},
		"GET /v1/workspaces/{id}":   w,
		"PATCH /v1/workspaces/{id}": w,
		"POST /v1/workspaces":       clitest.Reply{Status: 201, Body: created},
	}.Shared())
}

func TestGolden(t *testing.T) {
	t.Parallel()
	e := stub(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"list", []string{"workspaces", "list"}},
		{"get", []string{"workspaces", "get", "ws_01jd0000000000000000000001"}},
		{"create", []string{"workspaces", "create", "delta"}},
		{"update", []string{"workspaces", "update", "ws_01jd0000000000000000000001", "--set", "monthly_spend_usd=12.345", "--set", "max_concurrent_tasks=20", "--unset", "burst", "--resume"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tty := e.TTY(c.args...).Want(t, 0)
			clitest.Golden(t, c.name+"_tty", tty.Stdout+"--- stderr\n"+clitest.Normalize(tty.Stderr))
			piped := e.Run(c.args...).Want(t, 0)
			clitest.Golden(t, c.name+"_piped", clitest.Normalize(piped.Stdout))
			js := e.Run(append(c.args, "-o", "json")...).Want(t, 0)
			clitest.Golden(t, c.name+"_json", clitest.Normalize(js.Stdout))
		})
	}
}

// TestWidths: every table of `baton workspaces` at 80 and 120 columns, with its
// ids whole (issue 16 row 1).
func TestWidths(t *testing.T) {
	t.Parallel()
	e := stub(t)
	e.GoldenWidths(t, "workspaces_list", "workspaces", "list")
	e.GoldenWidths(t, "workspaces_get", "workspaces", "get", "ws_01jd0000000000000000000001")
}
