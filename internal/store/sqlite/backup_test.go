package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// openAt opens and migrates a store at path.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func addWorkspace(ctx context.Context, s *Store, name string) error {
	now := time.Now().UTC()
	ws := store.Workspace{ID: ids.New(ids.Workspace), Name: name, Tier: "free", Status: api.WorkspaceActive,
		Overrides: api.Overrides{}, CreatedAt: now, UpdatedAt: now}
	k := store.Key{ID: ids.New(ids.Key), WorkspaceID: ws.ID, Name: "default", Prefix: "bk_" + name,
		Hash: []byte(name), Scopes: []string{api.ScopeAll}, CreatedAt: now}
	return s.CreateWorkspace(ctx, ws, k)
}

// TestBackupWhileWriting backs up a database that another connection keeps
// writing to: the backup is intact, holds a prefix of the writes, and
// refuses to replace itself without overwrite.
func TestBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openAt(t, filepath.Join(dir, "baton.db"))
	for i := range 20 {
		if err := addWorkspace(ctx, s, fmt.Sprintf("before-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := addWorkspace(ctx, s, fmt.Sprintf("during-%d", i)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	file := filepath.Join(dir, "backup.db")
	snap, err := Backup(ctx, filepath.Join(dir, "baton.db"), file, false)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Counts["workspaces"] < 20 || snap.Counts["keys"] != snap.Counts["workspaces"] || snap.SchemaVersion < 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	if st, err := os.Stat(file); err != nil || st.Size() != snap.Bytes || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st, err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if _, err := os.Stat(file + suffix); err == nil {
			t.Errorf("backup left %s%s", file, suffix)
		}
	}
	again, err := inspect(ctx, file, true)
	if err != nil || again.Counts["workspaces"] != snap.Counts["workspaces"] {
		t.Fatalf("inspect backup: %+v %v", again, err)
	}

	if _, err := Backup(ctx, filepath.Join(dir, "baton.db"), file, false); !errors.Is(err, ErrFileExists) {
		t.Fatalf("second backup without overwrite: %v", err)
	}
	if _, err := Backup(ctx, filepath.Join(dir, "baton.db"), file, true); err != nil {
		t.Fatalf("backup with overwrite: %v", err)
	}
	if _, err := Backup(ctx, filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db"), false); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("backup of a missing database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Fatal("backup created the missing database")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*")); len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

// TestRestoreRefusals: a file that is not a baton database, a target in
// use, a target with data (without force) are all refused, and leave the
// target as it was.
func TestRestoreRefusals(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	src := openAt(t, filepath.Join(dir, "src.db"))
	if err := addWorkspace(ctx, src, "src"); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if _, err := Backup(ctx, filepath.Join(dir, "src.db"), backup, false); err != nil {
		t.Fatal(err)
	}

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte("this is not a database, not even close to one, but long enough for a header.............."), 0o600)
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite", other)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec("CREATE TABLE things (x)")
	db.Close()
	target := filepath.Join(dir, "data", "baton.db")
	for _, bad := range []string{garbage, other, filepath.Join(dir, "absent.db")} {
		if _, err := Restore(ctx, bad, target, true); err == nil {
			t.Errorf("restore of %s succeeded", bad)
		} else if bad != filepath.Join(dir, "absent.db") && !errors.Is(err, ErrInvalidBackup) {
			t.Errorf("restore of %s: %v, want ErrInvalidBackup", bad, err)
		}
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("a refused restore created the target")
	}

	// A running server: the target store is open.
	live := openAt(t, target)
	if err := addWorkspace(ctx, live, "live"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := Restore(ctx, backup, target, true); !errors.Is(err, ErrInUse) {
		t.Fatalf("restore into an open database: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %s", d)
	}
	if err := addWorkspace(ctx, live, "still-writable"); err != nil {
		t.Fatalf("the live store after a refused restore: %v", err)
	}
	live.Close()

	// Stopped, with data: refused without force, and left in WAL mode.
	if _, err := Restore(ctx, backup, target, false); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore into a database with data: %v, want ErrNotEmpty", err)
	}
	if mode := journalMode(t, target); mode != "wal" {
		t.Fatalf("journal mode after a refused restore: %s", mode)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "data", "*.restore-*")); len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}

	// Forced: replaced, the old one kept.
	res, err := Restore(ctx, backup, target, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kept == "" || res.Counts["workspaces"] != 1 {
		t.Fatalf("forced restore: %+v", res)
	}
	old, err := inspect(ctx, res.Kept, true)
	if err != nil || old.Counts["workspaces"] != 2 {
		t.Fatalf("kept database: %+v %v", old, err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "data", "*")); len(files) != 2 {
		t.Fatalf("data dir after restore: %v, want baton.db and the kept one", files)
	}
	s := openAt(t, target)
	if _, err := s.GetWorkspace(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("restored store: %v", err)
	}
}

// TestRestoreUpgradesAndCleans restores a backup of an older schema into an
// empty (migrated, no rows) database with a stale -wal beside it: no force
// needed, the -wal is removed, the schema is migrated.
func TestRestoreUpgradesAndCleans(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	old := filepath.Join(dir, "old.db")
	db, err := sql.Open("sqlite", old)
	if err != nil {
		t.Fatal(err)
	}
	fsys, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO workspaces (id, name, tier, status, overrides, created_at, updated_at)
		VALUES ('ws_old', 'old', 'free', 'active', '{}', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	target := filepath.Join(dir, "data", "baton.db")
	os.Mkdir(filepath.Dir(target), 0o700)
	openAt(t, target).Close()
	os.WriteFile(target+"-wal", []byte("stale write-ahead log"), 0o600)
	res, err := Restore(ctx, old, target, false)
	if err != nil {
		t.Fatal(err)
	}
	latest, _ := LatestSchemaVersion()
	if res.FromVersion != 1 || res.SchemaVersion != latest || res.Kept != "" || res.Counts["workspaces"] != 1 {
		t.Fatalf("restore: %+v", res)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "data", "*")); len(files) != 1 || files[0] != target {
		t.Fatalf("data dir after restore: %v (a stale -wal, a temporary file?)", files)
	}
	s := openAt(t, target)
	if ws, err := s.GetWorkspace(ctx, "ws_old"); err != nil || ws.Name != "old" {
		t.Fatalf("restored workspace: %+v %v", ws, err)
	}
}

func journalMode(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}
