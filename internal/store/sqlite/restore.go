package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// lockBusyMillis is how long Restore waits for the target database before
// it concludes that a server has it open.
const lockBusyMillis = 1000

// Restored is what Restore did.
type Restored struct {
	// Snapshot is the restored database, migrated.
	Snapshot
	// FromVersion is the schema version of the backup before migration.
	FromVersion int64
	// Kept is where the database that was replaced is kept ("" when there
	// was none, or it was empty).
	Kept string
}

// Restore makes the backup file the database at target.
//
// It copies file to a temporary file beside target, checks the copy (an
// intact baton database of a schema version this binary knows), applies
// pending migrations to it (a backup from an older baton is upgraded), and
// syncs it. Then it locks target: no other connection may have it open, so
// a server using it makes Restore fail with ErrInUse (stop the server
// first). A target holding any row is refused with ErrNotEmpty unless
// force; a replaced non-empty database is kept as
// TARGET.before-restore-TIME. Stale -wal, -shm and -journal files of
// target are removed and the copy is renamed to target.
func Restore(ctx context.Context, file, target string, force bool) (Restored, error) {
	src, err := os.Stat(file)
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	if !src.Mode().IsRegular() {
		return Restored{}, fmt.Errorf("restore: %s is not a regular file", file)
	}
	if st, err := os.Stat(target); err == nil && os.SameFile(st, src) {
		return Restored{}, fmt.Errorf("restore %s: that is the target database itself", file)
	}
	if st, err := os.Stat(file + "-wal"); err == nil && st.Size() > 0 {
		return Restored{}, fmt.Errorf("restore %s: %w: it has a write-ahead log (%s-wal), so it is a live database, not a backup: make one with `baton server backup`", file, ErrInvalidBackup, file)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}

	tmp, err := os.CreateTemp(filepath.Dir(target), filepath.Base(target)+".restore-*")
	if err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			removeDBFiles(tmpName)
		}
	}()
	err = copyFrom(tmp, file)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Restored{}, fmt.Errorf("restore: copy %s: %w", file, err)
	}
	from, err := inspect(ctx, tmpName, true)
	if err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", file, err)
	}
	if err := migrateFile(ctx, tmpName); err != nil {
		return Restored{}, fmt.Errorf("restore %s: %w", file, err)
	}
	snap, err := inspect(ctx, tmpName, false)
	if err != nil {
		return Restored{}, fmt.Errorf("restore %s: after migrating: %w", file, err)
	}
	if err := syncFile(tmpName); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}

	lk, empty, err := lockTarget(ctx, target)
	if err != nil {
		return Restored{}, fmt.Errorf("restore into %s: %w", target, err)
	}
	// Once the copy is in place, the lock's connection (to the replaced
	// file) must not touch the path again: release without restoring its mode.
	defer func() { lk.release(!done) }()
	if !empty && !force {
		return Restored{}, fmt.Errorf("restore into %s: %w", target, ErrNotEmpty)
	}
	res := Restored{Snapshot: snap, FromVersion: from.SchemaVersion}
	res.Path = target
	if !empty {
		res.Kept = target + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := keep(target, res.Kept); err != nil {
			return Restored{}, fmt.Errorf("restore: keep the replaced database: %w", err)
		}
	}
	// Under the lock nothing else has target open: a -wal or -journal left
	// now is stale, and would be replayed onto the restored database.
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(target + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Restored{}, fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmpName, target); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	done = true
	if err := syncDir(filepath.Dir(target)); err != nil {
		return Restored{}, fmt.Errorf("restore: %w", err)
	}
	return res, nil
}

// migrateFile applies pending migrations to the database at path and
// closes it, which checkpoints and removes its -wal.
func migrateFile(ctx context.Context, path string) error {
	s, err := Open(ctx, path)
	if err != nil {
		return err
	}
	err = s.Migrate(ctx)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if st, err := os.Stat(path + "-wal"); err == nil && st.Size() > 0 {
		return fmt.Errorf("%s-wal was not checkpointed", path)
	}
	return nil
}

// targetLock holds an exclusive lock on the target database.
type targetLock struct {
	db   *sql.DB
	conn *sql.Conn
	wal  bool // the target was in WAL mode
}

// lockTarget takes target for Restore and tells whether it is empty (no
// file, an empty file, or no row in any table but goose's). Switching a
// WAL database to the rollback journal needs every other connection closed,
// so it fails while a server has the file open (ErrInUse); then an
// exclusive transaction in exclusive locking mode keeps everyone else out
// until release. A file that is not a SQLite database cannot be in use by
// baton: it is returned unlocked and not empty.
func lockTarget(ctx context.Context, target string) (*targetLock, bool, error) {
	lk := &targetLock{}
	st, err := os.Stat(target)
	if errors.Is(err, fs.ErrNotExist) {
		return lk, true, nil
	} else if err != nil {
		return nil, false, err
	}
	if st.Size() == 0 {
		return lk, true, nil
	}
	if lk.db, err = sql.Open("sqlite", dsn(target, "rw", lockBusyMillis)); err != nil {
		return nil, false, err
	}
	fail := func(err error) (*targetLock, bool, error) {
		lk.release(true)
		return nil, false, err
	}
	if lk.conn, err = lk.db.Conn(ctx); err != nil {
		return fail(err)
	}
	var mode string
	if err := lk.conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		if isBusy(err) {
			return fail(fmt.Errorf("%w: %v", ErrInUse, err))
		}
		lk.release(false)
		return &targetLock{}, false, nil // not a database: nothing to lock
	}
	lk.wal = mode == "wal"
	if err := lk.conn.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode); err != nil || mode != "delete" {
		return fail(fmt.Errorf("%w (by a running server?): %v", ErrInUse, err))
	}
	for _, q := range []string{"PRAGMA locking_mode=EXCLUSIVE", "BEGIN EXCLUSIVE"} {
		if _, err := lk.conn.ExecContext(ctx, q); err != nil {
			return fail(fmt.Errorf("%w: %v", ErrInUse, err))
		}
	}
	empty, err := lk.empty(ctx)
	if err != nil {
		return fail(err)
	}
	return lk, empty, nil
}

// empty reports whether no table but goose's has a row.
func (lk *targetLock) empty(ctx context.Context) (bool, error) {
	rows, err := lk.conn.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'goose_db_version'`)
	if err != nil {
		return false, err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return false, err
		}
		tables = append(tables, name)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return false, err
	}
	for _, t := range tables {
		var has bool
		q := `SELECT EXISTS (SELECT 1 FROM "` + strings.ReplaceAll(t, `"`, `""`) + `")`
		if err := lk.conn.QueryRowContext(ctx, q).Scan(&has); err != nil {
			return false, err
		}
		if has {
			return false, nil
		}
	}
	return true, nil
}

// release ends the lock. With restoreMode (nothing was replaced) a target
// that was in WAL mode is switched back, leaving it as found.
func (lk *targetLock) release(restoreMode bool) {
	if lk == nil || lk.db == nil {
		return
	}
	if lk.conn != nil {
		ctx := context.Background()
		lk.conn.ExecContext(ctx, "ROLLBACK")
		if restoreMode && lk.wal {
			lk.conn.ExecContext(ctx, "PRAGMA locking_mode=NORMAL")
			lk.conn.ExecContext(ctx, "PRAGMA journal_mode=WAL")
		}
		lk.conn.Close()
	}
	lk.db.Close()
}

// isBusy reports a SQLITE_BUSY or SQLITE_LOCKED error.
func isBusy(err error) bool {
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked") ||
		strings.Contains(s, "SQLITE_LOCKED")
}

// keep preserves the database at path (quiescent, in rollback mode, under
// the lock) as kept: a hard link, or a copy where links are not supported.
func keep(path, kept string) error {
	if err := os.Link(path, kept); err == nil {
		return nil
	}
	f, err := os.OpenFile(kept, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	err = copyFrom(f, path)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyFrom copies the file at path into w.
func copyFrom(w io.Writer, path string) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(w, r)
	return err
}

// removeDBFiles removes a database file and its companions.
func removeDBFiles(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}
