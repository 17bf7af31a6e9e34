package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/genericcorp/baton/internal/store"
)

// SQLSTATE codes mapped to store errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// scanner is a pgx.Row or pgx.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// Times are truncated to the microsecond before they reach PostgreSQL and
// read back in UTC, like the SQLite store. pgx's binary encoding truncates
// too, but PostgreSQL rounds text input (simple protocol), so truncate here.

func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// tsPtr is ts of a time that may be absent (NULL).
func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := ts(*t)
	return &u
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// mapErr turns pgx.ErrNoRows and foreign-key violations into
// store.ErrNotFound and unique violations into store.ErrConflict. The
// driver's error stays in the chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case uniqueViolation:
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		case foreignKeyViolation:
			return fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
	}
	return err
}

// mustAffect returns store.ErrNotFound if the statement changed no row.
func mustAffect(tag pgconn.CommandTag) error {
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// collect scans every row of a query that returned rows and err, closing
// rows. The result is never nil.
func collect[T any](rows pgx.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}
