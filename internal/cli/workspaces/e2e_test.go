package workspaces_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

func TestCreate(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)

	// -o json is exactly {"workspace": …, "key": {…, "secret"}}.
	r := e.Run("workspaces", "create", "acme", "--tier", "pro", "-o", "json").Want(t, 0)
	raw := clitest.JSON[map[string]json.RawMessage](t, r)
	if len(raw) != 2 || raw["workspace"] == nil || raw["key"] == nil {
		t.Fatalf("create -o json: %s", r.Stdout)
	}
	res := clitest.JSON[api.CreateWorkspaceResponse](t, r)
	if res.Workspace.Name != "acme" || res.Workspace.Tier != "pro" || !strings.HasPrefix(res.Key.Secret, "bk_") {
		t.Fatalf("created %+v", res)
	}
	if !strings.Contains(r.Stderr, "shown only this once") {
		t.Fatalf("stderr: %s", r.Stderr)
	}

	// The table form shows the secret too; the new key works.
	r = e.Run("workspaces", "create", "beta").Want(t, 0)
	var secret string
	for _, line := range strings.Split(r.Stdout, "\n") {
		if s, ok := strings.CutPrefix(line, "key_secret\t"); ok {
			secret = s
		}
	}
	if !strings.HasPrefix(secret, "bk_") || !strings.Contains(r.Stdout, "tier\tfree\n") {
		t.Fatalf("create:\n%s", r.Stdout)
	}
	e.RunAs(secret, "auth", "status").Want(t, 0)

	e.Run("workspaces", "create", "acme").Want(t, 1)                    // conflict
	e.Run("workspaces", "create", "Bad Name!").Want(t, 1)               // validation_failed
	e.Run("workspaces", "create", "gamma", "--tier", "nope").Want(t, 1) // unknown tier
	e.RunAs(secret, "workspaces", "create", "delta").Want(t, 4)         // not an operator
}

func TestListAndGet(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	var ids []string
	for _, n := range []string{"a", "b", "c"} {
		ws, _ := e.NewTenant(t, n)
		ids = append(ids, ws.ID)
	}
	r := e.Run("workspaces", "list", "--limit", "2").Want(t, 0)
	if lines := strings.Split(strings.TrimSpace(r.Stdout), "\n"); len(lines) != 3 || lines[0] != "id\tname\ttier\tstatus\tcreated" {
		t.Fatalf("list:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "more: use --all") {
		t.Fatalf("no hint: %q", r.Stderr)
	}
	all := clitest.JSON[[]api.Workspace](t, e.Run("workspaces", "list", "--all", "--limit", "1", "-o", "json").Want(t, 0))
	var got []string
	for _, w := range all {
		got = append(got, w.ID)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("--all ids %v, want %v", got, ids)
	}
	empty := e.Run("workspaces", "list", "-o", "json")
	if empty.Code != 0 || !strings.HasPrefix(empty.Stdout, "[") {
		t.Fatalf("list -o json: %s", empty.Stdout)
	}

	w := clitest.JSON[api.Workspace](t, e.Run("workspaces", "get", ids[1], "-o", "json").Want(t, 0))
	if w.ID != ids[1] || w.Name != "b" || w.Limits.MaxConcurrentTasks != 2 {
		t.Fatalf("get: %+v", w)
	}
	r = e.Run("workspaces", "get", "ws_01jdzzzzzzzzzzzzzzzzzzzzzz", "-o", "json").Want(t, 3)
	var env struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Stderr), &env); err != nil || env.Error.Code != "not_found" || r.Stdout != "" {
		t.Fatalf("404 in JSON mode: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
}

func TestUpdate(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, owner := e.NewTenant(t, "acme")

	r := e.Run("workspaces", "update", ws.ID, "--set", "monthly_spend_usd=12.50", "--set", "max_concurrent_tasks=7", "-o", "json").Want(t, 0)
	w := clitest.JSON[api.Workspace](t, r)
	if w.Limits.MonthlySpendMicros != 12_500_000 || w.Limits.MaxConcurrentTasks != 7 || w.Overrides[api.LimitMonthlySpendMicros] != 12_500_000 {
		t.Fatalf("after --set: %+v", w)
	}
	if !strings.Contains(r.Stderr, "monthly_spend_usd=12.50") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	r = e.Run("workspaces", "get", ws.ID).Want(t, 0)
	for _, want := range []string{"monthly_spend_usd\t12.50 (override)\n", "max_concurrent_tasks\t7 (override)\n", "burst\t20\n", "max_task_duration_seconds\t5m\n"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("get lacks %q:\n%s", want, r.Stdout)
		}
	}

	w = clitest.JSON[api.Workspace](t, e.Run("workspaces", "update", ws.ID, "--unset", "monthly_spend_usd", "--tier", "pro", "-o", "json").Want(t, 0))
	if w.Tier != "pro" || w.Limits.MonthlySpendMicros != 200_000_000 || w.Limits.MaxConcurrentTasks != 7 || len(w.Overrides) != 1 {
		t.Fatalf("after --unset --tier: %+v", w)
	}

	e.Run("workspaces", "update", ws.ID, "--suspend").Want(t, 0)
	e.RunAs(owner, "keys", "list").Want(t, 4)
	e.Run("workspaces", "update", ws.ID, "--resume").Want(t, 0)
	e.RunAs(owner, "keys", "list").Want(t, 0)

	e.Run("workspaces", "update", ws.ID).Want(t, 2)
	e.Run("workspaces", "update", ws.ID, "--suspend", "--resume").Want(t, 2)
	e.Run("workspaces", "update", ws.ID, "--set", "cpus=1").Want(t, 2)
	e.Run("workspaces", "update", ws.ID, "--tier", "nope").Want(t, 1)
	e.Run("workspaces", "update", "ws_01jdzzzzzzzzzzzzzzzzzzzzzz", "--tier", "pro").Want(t, 3)
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, owner := e.NewTenant(t, "acme")
	key := map[string]string{"BATON_API_KEY": e.Key}

	e.Run("workspaces", "delete", ws.ID).Want(t, 2) // no terminal, no --yes
	// The prompt names the workspace and wants its name typed (issue 16
	// row 8): "y" is not enough.
	for _, answer := range []string{"no\n", "y\n", "ACME\n", ""} {
		r := e.Exec(clitest.Invocation{Args: []string{"workspaces", "delete", ws.ID}, TTY: true, Stdin: answer, Env: key}).Want(t, 1)
		if !strings.Contains(r.Stderr, "Delete workspace acme ("+ws.ID+"), its tasks and all its keys?") ||
			!strings.Contains(r.Stderr, "Type acme to confirm:") || !strings.Contains(r.Stderr, "nothing was deleted") {
			t.Fatalf("prompt after %q: %s", answer, r.Stderr)
		}
	}
	e.Run("workspaces", "get", ws.ID).Want(t, 0)

	r := e.Exec(clitest.Invocation{Args: []string{"workspaces", "delete", ws.ID}, TTY: true, Stdin: "acme\n", Env: key}).Want(t, 0)
	if !strings.Contains(r.Stderr, "Deleted workspace acme ("+ws.ID+")") || r.Stdout != "" {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	e.Run("workspaces", "get", ws.ID).Want(t, 3)
	e.RunAs(owner, "auth", "status").Want(t, 4)
	e.Run("workspaces", "delete", ws.ID, "--yes").Want(t, 3)

	ws2, _ := e.NewTenant(t, "beta")
	r = e.Run("workspaces", "delete", ws2.ID, "--yes", "-o", "json").Want(t, 0)
	if got := clitest.JSON[map[string]any](t, r); got["id"] != ws2.ID || got["deleted"] != true {
		t.Fatalf("delete -o json: %s", r.Stdout)
	}
}

func TestCompleteIDs(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, owner := e.NewTenant(t, "acme")
	for _, verb := range []string{"get", "update", "delete"} {
		r := e.Run("__complete", "workspaces", verb, "ws_").Want(t, 0)
		if !strings.HasPrefix(r.Stdout, ws.ID+"\tacme\n:4\n") {
			t.Errorf("%s: %q", verb, r.Stdout)
		}
	}
	// Any error (here: a workspace key may not list workspaces) completes nothing.
	if r := e.RunAs(owner, "__complete", "workspaces", "get", ""); !strings.HasPrefix(r.Stdout, ":4\n") {
		t.Errorf("completion without an operator key: %q", r.Stdout)
	}
	if r := e.Run("__complete", "workspaces", "get", ws.ID, ""); !strings.HasPrefix(r.Stdout, ":4\n") {
		t.Errorf("second argument completed: %q", r.Stdout)
	}
}
