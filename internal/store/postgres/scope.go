package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/genericcorp/baton/internal/store"
)

// Row-level security. Every tenant table has RLS enabled and forced (the
// owner is held to it too), with a policy that lets a statement see and
// write a row only if its workspace id is in the transaction-local setting
// baton.workspace_id (migration 00009): "*" for system work, else a
// comma-separated list of ids; unset, nothing is visible. Every statement
// this store sends sets it first, from the context's store.Scope, in the
// same round trip: transactions begin with it (pipeTx), and
// a statement outside a transaction goes as a two-statement batch. A
// context without a scope is system work.

// scopeSetting is the setting the policies read.
const scopeSetting = "baton.workspace_id"

// tenantTables are the tables that hold a tenant's rows, with the column
// that names the workspace. Migration 00009 puts a policy on each;
// TestRowLevelSecurity checks that every table of the schema but these
// and goose's holds no tenant data.
var tenantTables = map[string]string{
	"workspaces":    "id",
	"api_keys":      "workspace_id",
	"audit_events":  "workspace_id",
	"tasks":         "workspace_id",
	"task_attempts": "workspace_id",
	"task_events":   "workspace_id",
	"usage_events":  "workspace_id",
	"usage_hourly":  "workspace_id",
	"usage_monthly": "workspace_id",
	"alerts":        "workspace_id",
	"task_counts":   "workspace_id",
	"workers":       "workspace_id",
	"task_steps":    "workspace_id",
	"task_signals":  "workspace_id",
	"claim_locks":   "workspace_id",
}

// scopeValue is the setting for ctx's scope: the system scope if it has
// none.
func scopeValue(ctx context.Context) string {
	s, ok := store.ScopeOf(ctx)
	if !ok {
		return store.SystemScope().Setting()
	}
	return s.Setting()
}

// quoteLiteral quotes v as an SQL string literal (standard_conforming_strings
// is on in every supported PostgreSQL).
func quoteLiteral(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

const setScopeSQL = "SELECT set_config('" + scopeSetting + "', $1, true)"

// batch sends sql in ctx's scope: the setting and the statement as one
// batch, which pgx sends as one round trip (an implicit transaction, so
// the setting ends with the statement).
func (s *Store) batch(ctx context.Context, sql string, args ...any) pgx.BatchResults {
	b := &pgx.Batch{}
	b.Queue(setScopeSQL, scopeValue(ctx))
	b.Queue(sql, args...)
	return &ledResults{BatchResults: s.pool.SendBatch(ctx, b), what: []string{"scope"}}
}

// exec runs one statement outside a transaction, in ctx's scope.
func (s *Store) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return execOne(s.batch(ctx, sql, args...))
}

// query runs one query outside a transaction, in ctx's scope; closing the
// rows ends the batch.
func (s *Store) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return queryOne(s.batch(ctx, sql, args...))
}

// execOne is the result of the statement of br (a batch of one, after its
// leaders), ending br.
func execOne(br pgx.BatchResults) (pgconn.CommandTag, error) {
	tag, err := br.Exec()
	if err != nil {
		br.Close()
		return tag, err
	}
	return tag, br.Close()
}

// queryOne is the rows of the query of br (a batch of one, after its
// leaders); they end br.
func queryOne(br pgx.BatchResults) (pgx.Rows, error) {
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// queryRow runs a query for one row outside a transaction, in ctx's scope.
func (s *Store) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := s.query(ctx, sql, args...)
	return batchRow{rows: rows, err: err}
}

// batchRows are a batch's query rows: the batch ends with them, when Next
// finds no more rows (as pgx's own rows close then) or at Close, and its
// error, if any, is theirs.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.err = r.br.Close()
		r.br = nil
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// batchRow is pgx.Row for batchRows, as pgx's own QueryRow is for Rows.
type batchRow struct {
	rows pgx.Rows
	err  error
}

func (r batchRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// InForce reports whether row-level security binds this store's
// connections: the role is neither a superuser nor BYPASSRLS, and every
// tenant table has RLS enabled and forced. The server logs it at start.
func (s *Store) InForce(ctx context.Context) (bool, string, error) {
	var super, bypass bool
	var role string
	if err := s.queryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&role, &super, &bypass); err != nil {
		return false, "", fmt.Errorf("row-level security: %w", err)
	}
	switch {
	case super:
		return false, fmt.Sprintf("role %s is a superuser, which bypasses row-level security", role), nil
	case bypass:
		return false, fmt.Sprintf("role %s has BYPASSRLS", role), nil
	}
	names := make([]string, 0, len(tenantTables))
	for t := range tenantTables {
		names = append(names, t)
	}
	rows, err := s.query(ctx, `SELECT t FROM unnest($1::text[]) AS t
		WHERE NOT EXISTS (SELECT 1 FROM pg_class c
			WHERE c.oid = to_regclass(quote_ident(t)) AND c.relrowsecurity AND c.relforcerowsecurity)
		ORDER BY t`, names)
	if err != nil {
		return false, "", fmt.Errorf("row-level security: %w", err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, "", fmt.Errorf("row-level security: %w", err)
	}
	if len(missing) > 0 {
		return false, "not forced on " + strings.Join(missing, ", "), nil
	}
	return true, "role " + role + ", forced on every tenant table", nil
}

// Grant lets role use baton's tables without owning them: what the server
// needs to run as a role that RLS binds. Migrations stay with the owner
// (goose's table is read-only to role).
func (s *Store) Grant(ctx context.Context, role string) error {
	r := pgx.Identifier{role}.Sanitize()
	return s.withTx(ctx, func(tx *pipeTx) error {
		var schema string
		if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("grant: %w", err)
		}
		sc := pgx.Identifier{schema}.Sanitize()
		for _, q := range []string{
			`GRANT USAGE ON SCHEMA ` + sc + ` TO ` + r,
			`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + sc + ` TO ` + r,
			`GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA ` + sc + ` TO ` + r,
			`REVOKE INSERT, UPDATE, DELETE ON ` + sc + `.goose_db_version FROM ` + r,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("grant %s: %w", role, mapErr(err))
			}
		}
		return nil
	})
}
