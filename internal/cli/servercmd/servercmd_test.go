package servercmd_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/testutil"
)

// TestInitMigrateHealth runs the maintenance verbs against a data dir: init
// prints one operator key once and refuses a second time; migrate is
// repeatable; health tells a ready server from an absent one.
func TestInitMigrateHealth(t *testing.T) {
	e := clitest.NewServer(t)
	dir := t.TempDir()
	env := map[string]string{"BATON_DATA_DIR": dir, "BATON_CONFIG": ""}
	run := func(args ...string) clitest.Result {
		return e.Exec(clitest.Invocation{Args: args, Env: env})
	}
	r := run("server", "init").Want(t, 0)
	key := strings.TrimSpace(r.Stdout)
	if !strings.HasPrefix(key, "bak_") || strings.Count(r.Stdout, "\n") != 1 || !strings.Contains(r.Stderr, "only once") {
		t.Fatalf("init printed stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	r = run("server", "init").Want(t, 1)
	if !strings.Contains(r.Stderr, "already initialized") {
		t.Fatalf("second init: %q", r.Stderr)
	}
	run("server", "migrate").Want(t, 0)
	run("server", "migrate").Want(t, 0)

	// JSON form of init on a fresh data dir.
	env["BATON_DATA_DIR"] = t.TempDir()
	r = run("server", "init", "-o", "json").Want(t, 0)
	var out struct{ ID, Secret string }
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || !strings.HasPrefix(out.Secret, "bak_") || out.ID == "" {
		t.Fatalf("init -o json: %q (%v)", r.Stdout, err)
	}

	run("server", "health", "--url", e.URL).Want(t, 0)
	run("server", "health", "--url", "http://127.0.0.1:1").Want(t, 1)
	// The global --server names the server too (issue 16 row 7).
	run("server", "health", "--server", e.URL).Want(t, 0)
	if r := run("server", "health", "--server", "http://127.0.0.1:1").Want(t, 1); !strings.Contains(r.Stderr, "cannot reach the server at http://127.0.0.1:1 (from --server)") {
		t.Fatalf("health --server: %s", r.Stderr)
	}
	run("server", "--listen", "nonsense").Want(t, 2)
	run("server", "init", "extra").Want(t, 2)
}

// TestMigrateGrant: --grant on SQLite is refused (no roles); on PostgreSQL
// migrate --grant ROLE lets a role that owns nothing run on the schema.
func TestMigrateGrant(t *testing.T) {
	e := clitest.NewServer(t)
	env := map[string]string{"BATON_DATA_DIR": t.TempDir(), "BATON_CONFIG": ""}
	r := e.Exec(clitest.Invocation{Args: []string{"server", "migrate", "--grant", "someone"}, Env: env}).Want(t, 1)
	if !strings.Contains(r.Stderr, "only a PostgreSQL store has roles") {
		t.Fatalf("migrate --grant on SQLite: %q", r.Stderr)
	}
	if os.Getenv("BATON_TEST_POSTGRES_URL") == "" {
		return
	}
	owner := testutil.PostgresSchema(t)
	const role = "baton_test_app"
	testutil.PostgresCreateRole(t, role)
	env["BATON_DATABASE_URL"] = owner
	r = e.Exec(clitest.Invocation{Args: []string{"server", "migrate", "--grant", role}, Env: env}).Want(t, 0)
	if !strings.Contains(r.Stderr, "granted "+role) {
		t.Fatalf("migrate --grant: %q", r.Stderr)
	}
	// The role can now open the migrated store (migrate has nothing to do).
	env["BATON_DATABASE_URL"] = testutil.PostgresURL(t, testutil.PostgresAdminURL(t), role, testutil.PostgresSchemaOf(t, owner))
	e.Exec(clitest.Invocation{Args: []string{"server", "migrate"}, Env: env}).Want(t, 0)
}
