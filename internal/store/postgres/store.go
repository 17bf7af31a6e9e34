// Package postgres is baton's store for running many replicas: PostgreSQL
// through pgx/v5 and a pgxpool.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a store.Store backed by a PostgreSQL connection pool. Its tables
// live in the first schema of the connection's search_path.
type Store struct {
	// flows gives Store the shared write flows (package flow: tasks,
	// attempts, keys, workspaces) run on its write transactions.
	*flows
	pool *pgxpool.Pool
}

// flows is flow.Flows under a name that keeps the embedded field
// unexported.
type flows = flow.Flows

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value
// DSN) with a pool of at most maxConns connections (0 or less: pgxpool's
// default) and checks that it is reachable. It does not apply migrations:
// call Migrate.
func Open(ctx context.Context, url string, maxConns int32, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	if _, ok := cfg.ConnConfig.RuntimeParams[scopeSetting]; ok {
		return nil, fmt.Errorf("open postgres: the URL sets %s, which would widen every session's row-level security; baton sets it per transaction", scopeSetting)
	}
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool}
	s.flows = flow.NewFlows(s.inTx)
	return s, nil
}

// Option tunes the pool Open makes.
type Option func(*pgxpool.Config)

// WithTracer traces every statement of the pool's connections (tests and
// the benchmarks count statements per task with it).
func WithTracer(t pgx.QueryTracer) Option {
	return func(c *pgxpool.Config) { c.ConnConfig.Tracer = t }
}

// Migrate applies the embedded migrations that are not applied yet. Running
// it again is harmless, and so is running it from several processes at
// once: they take turns on an advisory lock per schema.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	// Migrations are system work: their connections see every row (the
	// session setting "*"), so that a migration's UPDATE of existing rows
	// is not silently narrowed to none by row-level security.
	cc := s.pool.Config().ConnConfig.Copy()
	cc.RuntimeParams[scopeSetting] = store.SystemScope().Setting()
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(schemaLocker{}))
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

// schemaLockKey names the advisory lock that serializes migrations of the
// current schema. goose's own session locker polls one database-wide lock
// every few seconds; this one blocks until its turn and leaves other schemas
// alone.
const schemaLockKey = `hashtextextended('baton.migrate:' || coalesce(current_schema(), ''), 0)`

type schemaLocker struct{}

func (schemaLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+schemaLockKey+`)`); err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	return nil
}

func (schemaLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock(`+schemaLockKey+`)`).Scan(&ok); err != nil {
		return fmt.Errorf("unlock migrations: %w", err)
	}
	if !ok {
		return errors.New("unlock migrations: lock was not held")
	}
	return nil
}

// Ping reports whether the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close closes the pool, waiting for acquired connections to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// withTx runs fn in a transaction (READ COMMITTED, see pipeTx) and commits
// it if fn returns nil; otherwise it rolls back and returns fn's error as
// is.
func (s *Store) withTx(ctx context.Context, fn func(tx *pipeTx) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Release()
	tx := &pipeTx{conn: conn, scope: scopeValue(ctx)}
	// A no-op after a commit. Not cancelled with ctx, so that a cancelled
	// request still rolls back cleanly.
	defer tx.rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	return tx.commit(ctx)
}

// txRows is the flow.Tx of a transaction.
type txRows struct {
	tx *pipeTx
	// also are CTEs the next Write carries with it (a claim's stamp of
	// its workspace).
	also []part
}

var _ flow.Tx = txRows{}

// inTx runs fn in a transaction (see withTx).
func (s *Store) inTx(ctx context.Context, fn func(tx flow.Tx) error) error {
	return s.withTx(ctx, func(tx *pipeTx) error { return fn(txRows{tx: tx}) })
}
