package keys_test

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// TestRevokeAll: incident response. An operator revokes every active key
// of one workspace with --all --workspace; another workspace keeps its
// keys; -q prints the revoked ids; a workspace key revoking its own
// workspace's keys revokes itself last. Without a workspace, or with an
// id as well, it is a usage error.
func TestRevokeAll(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, owner := e.NewTenant(t, "acme")
	_, other := e.NewTenant(t, "zulu")
	ci := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--name", "ci", "--scope", "tasks:read", "-o", "json").Want(t, 0))

	e.Run("keys", "revoke", "--all", "--yes").Want(t, 2) // an operator key must name the workspace
	e.RunAs(owner, "keys", "revoke", "--all", ci.ID, "--yes").Want(t, 2)
	e.RunAs(owner, "keys", "revoke", "--all").Want(t, 2) // no terminal, no --yes

	r := e.Run("keys", "revoke", "--all", "--workspace", ws.ID, "--yes", "-q").Want(t, 0)
	ids := strings.Fields(r.Stdout)
	if len(ids) != 2 || !strings.Contains(r.Stdout, ci.ID) {
		t.Fatalf("revoke --all -q printed %q, want the 2 keys of acme", r.Stdout)
	}
	e.RunAs(owner, "auth", "status").Want(t, 4)
	e.RunAs(ci.Secret, "auth", "status").Want(t, 4)
	e.RunAs(other, "auth", "status").Want(t, 0)
	if r := e.Run("keys", "revoke", "--all", "--workspace", ws.ID, "--yes").Want(t, 0); !strings.Contains(r.Stderr, "No active keys") {
		t.Errorf("second revoke --all: stderr %q", r.Stderr)
	}

	// A workspace's own "*" key: the others first, itself last, warned.
	_ = clitest.JSON[api.Key](t, e.RunAs(other, "keys", "create", "--name", "w", "--scope", "worker", "-o", "json").Want(t, 0))
	r = e.RunAs(other, "keys", "revoke", "--all", "--yes", "-o", "json").Want(t, 0)
	keys := clitest.JSON[[]api.Key](t, r)
	if len(keys) != 2 || keys[1].Name == "w" || keys[0].RevokedAt == nil || keys[1].RevokedAt == nil {
		t.Errorf("own revoke --all = %+v, want both revoked, the caller's own last", keys)
	}
	if !strings.Contains(r.Stderr, "the key this CLI is using is among them") {
		t.Errorf("no warning that the key in use goes too: %q", r.Stderr)
	}
}

// TestListPutsExpiringKeysFirst: active keys that expire within 7 days
// come first, soonest first, and a warning names them.
func TestListPutsExpiringKeysFirst(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	e.RunAs(owner, "keys", "create", "--name", "later", "--scope", "worker", "--expires-in", "30d").Want(t, 0)
	e.RunAs(owner, "keys", "create", "--name", "week", "--scope", "worker", "--expires-in", "6d").Want(t, 0)
	e.RunAs(owner, "keys", "create", "--name", "soon", "--scope", "worker", "--expires-in", "2d").Want(t, 0)
	r := e.RunAs(owner, "keys", "list", "-o", "json").Want(t, 0)
	keys := clitest.JSON[[]api.Key](t, r)
	if len(keys) != 4 || keys[0].Name != "soon" || keys[1].Name != "week" {
		names := []string{}
		for _, k := range keys {
			names = append(names, k.Name)
		}
		t.Fatalf("keys list order %v, want soon, week first", names)
	}
	if !strings.Contains(r.Stderr, "2 keys expire within 7 days: soon (") || strings.Contains(r.Stderr, "later") {
		t.Errorf("warning %q", r.Stderr)
	}
}
