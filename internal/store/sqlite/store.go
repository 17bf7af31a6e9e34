// Package sqlite is baton's embedded store: one SQLite file in WAL mode,
// driven by the pure-Go modernc.org/sqlite driver.
//
// Every write goes through a single writer connection and every write
// transaction is BEGIN IMMEDIATE, so writers queue in the process instead of
// failing with SQLITE_BUSY. Reads use a separate pool of query-only
// connections, which WAL lets run alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
)

//go:embed migrations/*.sql
var migrations embed.FS

// busyTimeoutMillis bounds how long a connection waits for a lock held by
// another process (another baton on the same file, a backup tool …).
const busyTimeoutMillis = 5000

// Store is a store.Store backed by one SQLite database file.
type Store struct {
	// flows gives Store the shared write flows (package flow: tasks,
	// attempts, keys, workspaces) run on its write transactions.
	*flows
	writer *sql.DB    // exactly one connection; all writes
	reader *sql.DB    // query-only connections; all reads outside a write
	stmts  *stmtCache // the write transactions' statements, prepared on writer
}

// flows is flow.Flows under a name that keeps the embedded field
// unexported.
type flows = flow.Flows

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database at path and checks
// that it is usable. It does not apply migrations: call Migrate. path must
// name a file; in-memory databases are refused, since the writer and the
// readers need to share one database.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("open sqlite: path %q must name a file", path)
	}
	name := "file:" + (&url.URL{Path: path}).EscapedPath()

	wq := url.Values{}
	wq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous(FULL)")
	wq.Add("_pragma", "foreign_keys(ON)")
	wq.Set("_txlock", "immediate")
	writer, err := sql.Open("sqlite", name+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// Connect the writer first: it creates the file and switches it to WAL,
	// which the read-only connections then find in place.
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}

	rq := url.Values{}
	rq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMillis))
	rq.Add("_pragma", "foreign_keys(ON)")
	rq.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", name+"?"+rq.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := &Store{writer: writer, reader: reader, stmts: newStmtCache(writer)}
	s.flows = flow.NewFlows(s.inTx)
	return s, nil
}

// Migrate applies the embedded migrations that are not applied yet. Running
// it again is harmless.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.writer, fsys,
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// Ping reports whether both the writer and the readers can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite writer: %w", err)
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite reader: %w", err)
	}
	return nil
}

// Close closes all connections.
func (s *Store) Close() error {
	s.stmts.close()
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// withTx runs fn in a write transaction (BEGIN IMMEDIATE on the writer
// connection) and commits it if fn returns nil. fn must use only tx: the
// writer's one connection is busy until fn returns.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.stmts.prepareNoted(ctx)
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return mapErr(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// txRows is the flow.Tx of a write transaction.
type txRows struct{ tx *preparedTx }

var _ flow.Tx = txRows{}

// inTx runs fn in a write transaction (see withTx).
func (s *Store) inTx(ctx context.Context, fn func(tx flow.Tx) error) error {
	return s.withTx(ctx, func(tx *sql.Tx) error { return fn(s.rows(tx)) })
}

// rows is the flow.Tx of tx, its statements prepared once (see stmtCache).
func (s *Store) rows(tx *sql.Tx) txRows {
	return txRows{tx: &preparedTx{tx: tx, cache: s.stmts}}
}
