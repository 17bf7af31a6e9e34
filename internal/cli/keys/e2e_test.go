package keys_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// TestRevokedKeyIsRefused is the contract scenario: a key revoked with
// `keys revoke` gets exit 4 on its next use.
func TestRevokedKeyIsRefused(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")

	k := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--name", "ci", "--scope", "tasks:write", "-o", "json").Want(t, 0))
	if !strings.HasPrefix(k.Secret, "bk_") || !strings.HasPrefix(k.ID, "key_") || len(k.Scopes) != 1 || k.Scopes[0] != "tasks:write" {
		t.Fatalf("created key = %+v", k)
	}
	e.RunAs(k.Secret, "auth", "status").Want(t, 0)

	list := e.RunAs(owner, "keys", "list").Want(t, 0)
	if !strings.Contains(list.Stdout, k.ID) || strings.Contains(list.Stdout, k.Secret) {
		t.Fatalf("keys list:\n%s", list.Stdout)
	}
	rev := e.RunAs(owner, "keys", "revoke", k.ID, "--yes").Want(t, 0)
	if rev.Stdout != "" || !strings.Contains(rev.Stderr, "Revoked key ci ("+k.ID+")") || strings.Contains(rev.Stderr, "warning") {
		t.Fatalf("revoke: stdout %q stderr %q", rev.Stdout, rev.Stderr)
	}
	e.RunAs(k.Secret, "auth", "status").Want(t, 4)
	e.RunAs(k.Secret, "tiers", "list").Want(t, 4)

	list = e.RunAs(owner, "keys", "list").Want(t, 0)
	for _, line := range strings.Split(list.Stdout, "\n") {
		if strings.HasPrefix(line, k.ID) && !strings.HasSuffix(line, "\trevoked") {
			t.Fatalf("revoked key's row: %q", line)
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	const id = "key_01jdzzzzzzzzzzzzzzzzzzzzzz"
	for _, args := range [][]string{{"keys", "get", id}, {"keys", "revoke", id, "--yes"}, {"keys", "rotate", id}} {
		r := e.Run(args...).Want(t, 3)
		if r.Stdout != "" || !strings.HasPrefix(r.Stderr, "error: ") {
			t.Errorf("%v: stdout %q stderr %q", args, r.Stdout, r.Stderr)
		}
	}

	// In JSON mode the error is a JSON envelope on stderr, stdout stays empty.
	r := e.Run("keys", "get", id, "-o", "json").Want(t, 3)
	var env struct {
		Error struct{ Code, Message, RequestID string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Stderr), &env); err != nil || r.Stdout != "" {
		t.Fatalf("stderr %q (%v), stdout %q", r.Stderr, err, r.Stdout)
	}
	if env.Error.Code != "not_found" || env.Error.Message == "" {
		t.Fatalf("envelope = %+v", env)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	for _, args := range [][]string{
		{"keys", "list", "--limit", "0"},
		{"keys", "create", "--expires-in", "soon", "--scope", "worker"},
		{"keys", "create", "--bogus"},
		{"keys", "get"},
		{"keys", "revoke", "key_x"}, // no terminal, no --yes
		{"keys"},
	} {
		if r := e.RunAs(owner, args...); r.Code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.Code, r.Stderr)
		}
	}
	// A workspace key needs --scope; an operator key without --workspace does not.
	r := e.RunAs(owner, "keys", "create", "--name", "x").Want(t, 2)
	if !strings.Contains(r.Stderr, "at least one --scope is required") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	op := clitest.JSON[api.Key](t, e.Run("keys", "create", "--name", "ops2", "-o", "json").Want(t, 0))
	if len(op.Scopes) != 1 || op.Scopes[0] != api.ScopeAdmin || !strings.HasPrefix(op.Secret, "bak_") {
		t.Fatalf("operator key = %+v", op)
	}
	// A shared worker's operator key: worker:all and nothing else.
	sw := clitest.JSON[api.Key](t, e.Run("keys", "create", "--name", "shared", "--scope", "worker:all", "-o", "json").Want(t, 0))
	if len(sw.Scopes) != 1 || sw.Scopes[0] != api.ScopeWorkerAll || !strings.HasPrefix(sw.Secret, "bak_") {
		t.Fatalf("worker:all key = %+v", sw)
	}
	e.RunAs(sw.Secret, "workspaces", "list").Want(t, 4)
	// A scope the caller lacks is the server's 422: exit 1.
	worker := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--scope", "keys:write", "-o", "json").Want(t, 0))
	e.RunAs(worker.Secret, "keys", "create", "--scope", "*").Want(t, 1)
}

func TestOperatorActsOnWorkspace(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, _ := e.NewTenant(t, "acme")
	k := clitest.JSON[api.Key](t, e.Run("keys", "create", "--workspace", ws.ID, "--scope", "worker", "-o", "json").Want(t, 0))
	if k.WorkspaceID != ws.ID || !strings.HasPrefix(k.Secret, "bk_") {
		t.Fatalf("key = %+v", k)
	}
	list := clitest.JSON[[]api.Key](t, e.Run("keys", "list", "--workspace", ws.ID, "-o", "json").Want(t, 0))
	if len(list) != 2 {
		t.Fatalf("workspace keys = %+v", list)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	for range 3 {
		e.RunAs(owner, "keys", "create", "--scope", "worker", "-q").Want(t, 0)
	}
	r := e.RunAs(owner, "keys", "list", "--limit", "2").Want(t, 0)
	if n := strings.Count(r.Stdout, "\n"); n != 3 || !strings.Contains(r.Stderr, "more: use --all") {
		t.Fatalf("first page: %d lines\n%s\nstderr %q", n, r.Stdout, r.Stderr)
	}
	all := clitest.JSON[[]api.Key](t, e.RunAs(owner, "keys", "list", "--limit", "2", "--all", "-o", "json").Want(t, 0))
	if len(all) != 4 {
		t.Fatalf("--all: %d keys", len(all))
	}
	r = e.RunAs(owner, "keys", "list", "--all").Want(t, 0)
	if strings.Contains(r.Stderr, "more:") {
		t.Fatalf("--all still hints: %q", r.Stderr)
	}
}

func TestRotate(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	k := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--scope", "tasks:read", "-o", "json").Want(t, 0))

	r := e.RunAs(owner, "keys", "rotate", k.ID, "--grace", "1h", "-o", "json").Want(t, 0)
	rot := clitest.JSON[api.Key](t, r)
	if rot.ID != k.ID || rot.Secret == k.Secret || !strings.HasPrefix(rot.Secret, "bk_") || rot.PreviousExpiresAt == nil {
		t.Fatalf("rotated = %+v", rot)
	}
	if !strings.Contains(r.Stderr, "old secret keeps working until") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	e.RunAs(k.Secret, "auth", "status").Want(t, 0)
	e.RunAs(rot.Secret, "auth", "status").Want(t, 0)

	r = e.RunAs(owner, "keys", "rotate", k.ID, "--grace", "0s").Want(t, 0)
	if !strings.Contains(r.Stderr, "old secret has stopped working") || !strings.Contains(r.Stdout, "bk_") {
		t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	e.RunAs(rot.Secret, "auth", "status").Want(t, 4)
}

func TestRevokePrompt(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	k := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--name", "reader", "--scope", "tasks:read", "-o", "json").Want(t, 0))
	env := map[string]string{"BATON_API_KEY": owner}

	// The prompt names the key (issue 16 row 8).
	r := e.Exec(clitest.Invocation{Args: []string{"keys", "revoke", k.ID}, TTY: true, Stdin: "n\n", Env: env}).Want(t, 1)
	if !strings.Contains(r.Stderr, "Revoke key reader ("+k.ID+")?") || !strings.Contains(r.Stderr, "cancelled") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	e.RunAs(k.Secret, "auth", "status").Want(t, 0)

	e.Exec(clitest.Invocation{Args: []string{"keys", "revoke", k.ID}, TTY: true, Stdin: "y\n", Env: env}).Want(t, 0)
	e.RunAs(k.Secret, "auth", "status").Want(t, 4)

	// -o json prints the revoked key; -q silences the message.
	k2 := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--scope", "tasks:read", "-o", "json").Want(t, 0))
	r = e.RunAs(owner, "keys", "revoke", k2.ID, "--yes", "-q", "-o", "json").Want(t, 0)
	if got := clitest.JSON[api.Key](t, r); got.ID != k2.ID || got.RevokedAt == nil || got.Secret != "" || r.Stderr != "" {
		t.Fatalf("revoked %+v, stderr %q", got, r.Stderr)
	}
}

func TestCompleteIDs(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	k := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--name", "ci", "--scope", "worker", "-o", "json").Want(t, 0))
	all := e.RunAs(owner, "__complete", "keys", "get", "").Want(t, 0)
	if strings.Count(all.Stdout, "key_") != 2 || !strings.Contains(all.Stdout, k.ID+"\tci ("+k.Prefix+"…)\n") {
		t.Fatalf("get: %q", all.Stdout)
	}
	e.RunAs(owner, "keys", "revoke", k.ID, "--yes").Want(t, 0)
	for _, verb := range []string{"revoke", "rotate"} {
		if r := e.RunAs(owner, "__complete", "keys", verb, ""); strings.Contains(r.Stdout, k.ID) || strings.Count(r.Stdout, "key_") != 1 {
			t.Errorf("%s offers revoked keys: %q", verb, r.Stdout)
		}
	}
	if r := e.RunAs("bk_nope", "__complete", "keys", "get", ""); r.Stdout != ":4\n" {
		t.Errorf("completion with a bad key: %q", r.Stdout)
	}
}

// TestRevokeKeyInUse (issue 16 row 8): revoking the key the CLI runs with
// is warned about, with or without --yes, and the prompt says so.
func TestRevokeKeyInUse(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	me := clitest.JSON[map[string]any](t, e.RunAs(owner, "auth", "status", "-o", "json").Want(t, 0))
	id := me["me"].(map[string]any)["key"].(map[string]any)["id"].(string)
	env := map[string]string{"BATON_API_KEY": owner}

	r := e.Exec(clitest.Invocation{Args: []string{"keys", "revoke", id}, TTY: true, Stdin: "n\n", Env: env}).Want(t, 1)
	if !strings.Contains(r.Stderr, "warning: key default ("+id+") is the key this CLI is using") ||
		!strings.Contains(r.Stderr, "Revoke key default ("+id+"), the key you are using now? [y/N]") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	r = e.RunAs(owner, "keys", "revoke", id, "--yes").Want(t, 0)
	if !strings.Contains(r.Stderr, "warning: key default ("+id+") is the key this CLI is using") {
		t.Fatalf("--yes: %s", r.Stderr)
	}
	e.RunAs(owner, "auth", "status").Want(t, 4)
}
