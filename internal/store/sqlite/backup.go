package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// Errors of Backup and Restore, for callers to tell refusals apart.
var (
	// ErrNoDatabase: there is no database file to back up.
	ErrNoDatabase = errors.New("no database")
	// ErrFileExists: the backup file exists and overwriting was not asked for.
	ErrFileExists = errors.New("file exists")
	// ErrInvalidBackup: the file is not an intact baton SQLite database.
	ErrInvalidBackup = errors.New("not a valid baton backup")
	// ErrInUse: another connection (a running server) has the database open.
	ErrInUse = errors.New("database is in use")
	// ErrNotEmpty: the restore target holds data and replacing it was not asked for.
	ErrNotEmpty = errors.New("database is not empty")
)

// Snapshot describes a database file: a backup just written, or a database
// just restored.
type Snapshot struct {
	Path          string
	Bytes         int64
	SchemaVersion int64
	// Counts holds the rows of each table of CountedTables that the file has,
	// by key.
	Counts map[string]int64
}

// CountedTables are the tables a Snapshot counts: key (as printed) and table.
// Usage rows join them with the usage tables (issue 4).
var CountedTables = []struct{ Key, Table string }{
	{"workspaces", "workspaces"},
	{"keys", "api_keys"},
	{"tasks", "tasks"},
	{"attempts", "task_attempts"},
	{"events", "task_events"},
	{"audit_events", "audit_events"},
}

// tablesSince lists the tables each migration adds: a database at schema
// version v holds those of every migration up to v.
var tablesSince = []struct {
	version int64
	tables  []string
}{
	{1, []string{"workspaces", "api_keys", "audit_events"}},
	{2, []string{"tasks", "task_attempts", "task_events"}},
}

// Summary is the counts in words: "2 workspaces, 3 keys, …".
func (s Snapshot) Summary() string {
	var parts []string
	for _, c := range CountedTables {
		if n, ok := s.Counts[c.Key]; ok {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(c.Key, "_", " ")))
		}
	}
	return strings.Join(parts, ", ")
}

// Backup writes a consistent copy of the database at dbPath to file while
// other processes (a serving baton) keep using it: VACUUM INTO reads one
// snapshot of the database (WAL lets writers go on meanwhile) into a
// compact, standalone file (rollback journal mode, no -wal). The copy goes
// to a temporary file beside file, is checked (integrity_check, baton
// schema), synced, and only then renamed to file, so a crash never leaves a
// partial backup under that name. An existing file is refused
// (ErrFileExists) unless overwrite.
func Backup(ctx context.Context, dbPath, file string, overwrite bool) (Snapshot, error) {
	if st, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) {
		return Snapshot{}, fmt.Errorf("%w at %s", ErrNoDatabase, dbPath)
	} else if err != nil {
		return Snapshot{}, fmt.Errorf("backup: %w", err)
	} else if !st.Mode().IsRegular() {
		return Snapshot{}, fmt.Errorf("%s is not a regular file", dbPath)
	}
	if st, err := os.Stat(file); err == nil {
		if src, err := os.Stat(dbPath); err == nil && os.SameFile(st, src) {
			return Snapshot{}, fmt.Errorf("backup %s: that is the database itself", file)
		}
		if !overwrite {
			return Snapshot{}, fmt.Errorf("backup %s: %w", file, ErrFileExists)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp-*")
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	done := false
	defer func() {
		if !done {
			os.Remove(tmpName)
		}
	}()

	db, err := sql.Open("sqlite", dsn(dbPath, "rw", busyTimeoutMillis))
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup: open %s: %w", dbPath, err)
	}
	// VACUUM INTO writes the (empty) temporary file; it reads the database
	// in one read transaction, so the copy is one consistent snapshot.
	_, err = db.ExecContext(ctx, "VACUUM INTO ?", tmpName)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup %s: %w", dbPath, err)
	}
	snap, err := inspect(ctx, tmpName, true)
	if err != nil {
		return Snapshot{}, fmt.Errorf("backup: the copy of %s: %w", dbPath, err)
	}
	if err := syncFile(tmpName); err != nil {
		return Snapshot{}, fmt.Errorf("backup: %w", err)
	}
	if err := publish(tmpName, file, overwrite); err != nil {
		return Snapshot{}, fmt.Errorf("backup %s: %w", file, err)
	}
	done = true
	snap.Path = file
	return snap, nil
}

// publish renames tmp to file; without overwrite it never replaces a file
// (a hard link fails if file exists; where links are not supported, a check
// before the rename).
func publish(tmp, file string, overwrite bool) error {
	if !overwrite {
		err := os.Link(tmp, file)
		switch {
		case err == nil:
			os.Remove(tmp)
			return syncDir(filepath.Dir(file))
		case errors.Is(err, fs.ErrExist):
			return ErrFileExists
		}
		if _, err := os.Lstat(file); err == nil {
			return ErrFileExists
		}
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	return syncDir(filepath.Dir(file))
}

// inspect checks that path is an intact baton database (integrity_check
// when check is set, the goose version table, a schema version this binary
// knows, every table of that version) and counts its rows.
func inspect(ctx context.Context, path string, check bool) (Snapshot, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Path: path, Bytes: st.Size(), Counts: map[string]int64{}}
	db, err := sql.Open("sqlite", dsn(path, "rw", busyTimeoutMillis))
	if err != nil {
		return Snapshot{}, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidBackup, fmt.Sprintf(format, args...))
	}

	tables := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table'")
	if err != nil {
		return Snapshot{}, invalid("%v", err) // e.g. "file is not a database"
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return Snapshot{}, invalid("%v", err)
		}
		tables[name] = true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return Snapshot{}, invalid("%v", err)
	}
	if check {
		if err := integrityCheck(ctx, db); err != nil {
			return Snapshot{}, invalid("%v", err)
		}
	}
	if !tables["goose_db_version"] {
		return Snapshot{}, invalid("no goose_db_version table: not a baton database")
	}
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version").Scan(&snap.SchemaVersion); err != nil {
		return Snapshot{}, invalid("read the schema version: %v", err)
	}
	latest, err := LatestSchemaVersion()
	if err != nil {
		return Snapshot{}, err
	}
	switch {
	case snap.SchemaVersion < 1:
		return Snapshot{}, invalid("no migration applied: not a baton database")
	case snap.SchemaVersion > latest:
		return Snapshot{}, invalid("schema version %d is newer than this baton's (%d): use the baton version that wrote it, or a newer one", snap.SchemaVersion, latest)
	}
	for _, m := range tablesSince {
		for _, t := range m.tables {
			if m.version <= snap.SchemaVersion && !tables[t] {
				return Snapshot{}, invalid("table %s of schema version %d is missing", t, m.version)
			}
		}
	}
	for _, c := range CountedTables {
		if !tables[c.Table] {
			continue
		}
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM "`+c.Table+`"`).Scan(&n); err != nil {
			return Snapshot{}, invalid("count %s: %v", c.Table, err)
		}
		snap.Counts[c.Key] = n
	}
	return snap, nil
}

// integrityCheck runs PRAGMA integrity_check, which answers one row "ok"
// or the problems found.
func integrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("integrity_check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if len(msgs) != 1 || msgs[0] != "ok" {
		if len(msgs) > 5 {
			msgs = append(msgs[:5], "…")
		}
		return fmt.Errorf("integrity_check failed: %s", strings.Join(msgs, "; "))
	}
	return nil
}

// LatestSchemaVersion is the version of the newest embedded migration.
func LatestSchemaVersion() (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		prefix, _, _ := strings.Cut(e.Name(), "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: bad version: %w", e.Name(), err)
		}
		latest = max(latest, v)
	}
	return latest, nil
}

// dsn is a one-off connection to the existing file at path (mode rw or ro:
// never created) with a busy timeout.
func dsn(path, mode string, busyMillis int) string {
	q := url.Values{}
	q.Set("mode", mode)
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyMillis))
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// syncFile flushes path's contents to stable storage.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename in dir durable (not possible, nor needed, on
// Windows).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
