package servercmd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/store/sqlite"
)

// dataDir returns a runner of server verbs on a new data dir.
func dataDir(t *testing.T, e *clitest.Env) (string, func(args ...string) clitest.Result) {
	dir := t.TempDir()
	env := map[string]string{"BATON_DATA_DIR": dir, "BATON_CONFIG": "", "BATON_DATABASE_URL": ""}
	return dir, func(args ...string) clitest.Result {
		return e.Exec(clitest.Invocation{Args: append([]string{"server"}, args...), Env: env})
	}
}

// TestBackupRestore: backup writes a checked copy and refuses to replace a
// file without --force; restore fills a fresh data dir, refuses a file that
// is not a baton database, a data dir with data (without --force) and a data
// dir in use.
func TestBackupRestore(t *testing.T) {
	e := clitest.NewServer(t)
	_, run := dataDir(t, e)
	run("init").Want(t, 0)
	file := filepath.Join(t.TempDir(), "backup.db")

	r := run("backup", file, "-o", "json").Want(t, 0)
	var out map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("backup -o json: %q: %v", r.Stdout, err)
	}
	if out["file"] != file || out["bytes"].(float64) <= 0 || out["keys"] != 1.0 || out["workspaces"] != 0.0 ||
		out["tasks"] != 0.0 || out["integrity"] != "ok" {
		t.Fatalf("backup -o json: %v", out)
	}
	if !strings.Contains(r.Stderr, "Backed up") || !strings.Contains(r.Stderr, "1 keys") {
		t.Fatalf("backup stderr: %q", r.Stderr)
	}
	r = run("backup", file).Want(t, 1)
	if !strings.Contains(r.Stderr, "file exists") || !strings.Contains(r.Stderr, "--force") {
		t.Fatalf("backup over a file: %q", r.Stderr)
	}
	if r = run("backup", file, "--force").Want(t, 0); r.Stdout != "" {
		t.Fatalf("backup prints on stdout: %q", r.Stdout)
	}
	run("backup").Want(t, 2)

	_, empty := dataDir(t, e)
	r = empty("backup", filepath.Join(t.TempDir(), "x.db")).Want(t, 1)
	if !strings.Contains(r.Stderr, "no database") || !strings.Contains(r.Stderr, "BATON_DATA_DIR") {
		t.Fatalf("backup of no database: %q", r.Stderr)
	}

	// Restore into a fresh data dir: the operator key came along.
	fresh, restore := dataDir(t, e)
	r = restore("restore", file, "-o", "json").Want(t, 0)
	out = nil
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || out["keys"] != 1.0 || out["kept"] != "" ||
		out["database"] != filepath.Join(fresh, "baton.db") {
		t.Fatalf("restore -o json: %q (%v)", r.Stdout, err)
	}
	if !strings.Contains(r.Stderr, "secret") {
		t.Fatalf("restore does not mention the secret: %q", r.Stderr)
	}
	if r = restore("init").Want(t, 1); !strings.Contains(r.Stderr, "already initialized") {
		t.Fatalf("init after restore: %q", r.Stderr)
	}

	// Not a baton database.
	bad := filepath.Join(t.TempDir(), "bad.db")
	os.WriteFile(bad, []byte(strings.Repeat("not sqlite ", 20)), 0o600)
	if r = restore("restore", bad, "--force").Want(t, 1); !strings.Contains(r.Stderr, "not a valid baton backup") {
		t.Fatalf("restore of a bad file: %q", r.Stderr)
	}

	// A data dir with data: --force needed, and the old database kept.
	if r = restore("restore", file).Want(t, 1); !strings.Contains(r.Stderr, "not empty") || !strings.Contains(r.Stderr, "--force") {
		t.Fatalf("restore over data: %q", r.Stderr)
	}
	r = restore("restore", file, "--force").Want(t, 0)
	if kept, _ := filepath.Glob(filepath.Join(fresh, "baton.db.before-restore-*")); len(kept) != 1 || !strings.Contains(r.Stderr, kept[0]) {
		t.Fatalf("kept %v; stderr %q", kept, r.Stderr)
	}

	// A server using the data dir (the store open, as `baton server` has it).
	st, err := sqlite.Open(t.Context(), filepath.Join(fresh, "baton.db"))
	if err != nil {
		t.Fatal(err)
	}
	r = restore("restore", file, "--force").Want(t, 1)
	st.Close()
	if !strings.Contains(r.Stderr, "in use") || !strings.Contains(r.Stderr, "stop the server") {
		t.Fatalf("restore while in use: %q", r.Stderr)
	}
}

// TestBackupRestorePostgres: for a PostgreSQL store both verbs exit 1 and
// print the pg_dump / pg_restore command for the URL, password redacted.
func TestBackupRestorePostgres(t *testing.T) {
	e := clitest.NewServer(t)
	env := map[string]string{"BATON_CONFIG": "", "BATON_DATA_DIR": t.TempDir(),
		"BATON_DATABASE_URL": "postgres://baton:s3cret@db.example:5432/baton?sslmode=require&search_path=tenant_a&pool_max_conns=8"}
	run := func(args ...string) clitest.Result {
		return e.Exec(clitest.Invocation{Args: args, Env: env})
	}
	r := run("server", "backup", "/srv/backups/baton.dump").Want(t, 1)
	want := "PGOPTIONS='-c baton.workspace_id=*' pg_dump --format=custom --no-owner --enable-row-security --file=/srv/backups/baton.dump --schema=tenant_a 'postgres://baton:xxxxx@db.example:5432/baton?sslmode=require'"
	if !strings.Contains(r.Stderr, "PostgreSQL") || !strings.Contains(r.Stderr, want) || strings.Contains(r.Stderr, "s3cret") {
		t.Fatalf("backup on PostgreSQL:\n%s\nwant the command %s", r.Stderr, want)
	}
	r = run("server", "restore", "/srv/backups/baton.dump", "-o", "json").Want(t, 1)
	var out struct {
		Error struct{ Message, Hint string }
	}
	if err := json.Unmarshal([]byte(r.Stderr), &out); err != nil {
		t.Fatalf("restore on PostgreSQL, -o json: %q: %v", r.Stderr, err)
	}
	want = "pg_restore --clean --if-exists --no-owner --exit-on-error --dbname='postgres://baton:xxxxx@db.example:5432/baton?sslmode=require' /srv/backups/baton.dump"
	if !strings.Contains(out.Error.Hint, want) || strings.Contains(r.Stderr, "s3cret") {
		t.Fatalf("restore on PostgreSQL: %+v\nwant the command %s", out.Error, want)
	}
}
