package postgres

import (
	"context"

	"github.com/genericcorp/baton/internal/store"
	"github.com/jackc/pgx/v5"
)

// TenantTables are the tables under row-level security, for the tests.
var TenantTables = tenantTables

// ScopedStrings runs sql through the store's own path for a statement
// outside a transaction (its row-level security scope from ctx) and
// returns the first column of each row.
func (s *Store) ScopedStrings(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := s.query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// ScopedExec runs sql in a transaction of the store's (its scope from ctx)
// and returns the rows it affected.
func (s *Store) ScopedExec(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	err := s.withTx(ctx, func(tx *pipeTx) error {
		tag, err := tx.Exec(ctx, sql, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// CandidatesQuery is the statement that finds the workspaces a claim tries.
func CandidatesQuery(p store.ClaimParams) (string, []any) {
	return candidatesQuery(p, candidate{seq: -1})
}

// UnheldTaskQuery is the statement that tells whether a busy workspace
// still has a claimable task no claim holds.
var UnheldTaskQuery = unheldTaskSQL

// PickQuery is the statement that locks a workspace and picks its tasks.
var PickQuery = pickSQL

// PipeTx is the store's transaction, for the tests of pipeTx.
type PipeTx = pipeTx

// Hold holds a write, as txRows.Write does.
func (t *pipeTx) Hold(sql string, args ...any) { t.hold(stmt{sql, args}) }

// WithTx runs fn in one of the store's transactions.
func (s *Store) WithTx(ctx context.Context, fn func(tx *PipeTx) error) error {
	return s.withTx(ctx, fn)
}
