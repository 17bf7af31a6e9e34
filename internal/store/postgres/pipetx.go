package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Transactions in two round trips fewer. pgx's Tx sends BEGIN when it
// begins and COMMIT when it commits, each a round trip of its own, and
// baton's transitions are short: a claim is BEGIN, the pick, the write and
// COMMIT — four round trips for two statements that matter. pipeTx sends
// nothing until the first statement, and then BEGIN and the transaction's
// row-level security scope in the same pipeline as it (one round trip,
// like a statement outside a transaction); and it holds a transition's
// write (txRows.Write, the last statement of every flow) until the next
// statement or COMMIT, which it goes with. A claim is then two round trips
// — BEGIN, scope and pick; write and COMMIT — as are a completion and an
// empty claim (BEGIN, scope and pick; ROLLBACK). The statements are the
// same ones, in the same order, in one transaction: PostgreSQL runs a
// pipeline's statements one after the other, and skips the rest of it
// after an error, so a failed write is never committed. pgx has no lazy
// BEGIN (its Tx begins in BeginTx), hence this type.

// pipeTx is one transaction on an acquired connection. Not safe for
// concurrent use.
type pipeTx struct {
	conn  *pgxpool.Conn
	scope string // the row-level security setting (scope.go)
	begun bool   // BEGIN was sent
	// later are writes not sent yet: they go first in the next round
	// trip.
	later []stmt
}

// lead is what must go before the next statement, and what each is for
// its error: BEGIN with the scope if they were not sent yet, and the held
// writes.
func (t *pipeTx) lead() ([]*pgx.QueuedQuery, []string) {
	var (
		qs   []*pgx.QueuedQuery
		what []string
	)
	if !t.begun {
		t.begun = true
		qs = append(qs, &pgx.QueuedQuery{SQL: "BEGIN"}, &pgx.QueuedQuery{SQL: setScopeSQL, Arguments: []any{t.scope}})
		what = append(what, "begin", "begin")
	}
	for _, s := range t.later {
		qs = append(qs, &pgx.QueuedQuery{SQL: s.sql, Arguments: s.args})
		what = append(what, "write")
	}
	t.later = nil
	return qs, what
}

// direct reports whether a statement can go alone: the transaction has
// begun and no write is held.
func (t *pipeTx) direct() bool { return t.begun && len(t.later) == 0 }

// hold keeps s to send before the next statement, or with COMMIT.
func (t *pipeTx) hold(s stmt) { t.later = append(t.later, s) }

// SendBatch sends b, after what must lead it, in one round trip.
func (t *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	qs, what := t.lead()
	if len(qs) == 0 {
		return t.conn.SendBatch(ctx, b)
	}
	return &ledResults{BatchResults: t.conn.SendBatch(ctx, &pgx.Batch{QueuedQueries: append(qs, b.QueuedQueries...)}), what: what}
}

// one sends sql, after what must lead it, as a batch.
func (t *pipeTx) one(ctx context.Context, sql string, args []any) pgx.BatchResults {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return t.SendBatch(ctx, b)
}

func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.direct() {
		return t.conn.Exec(ctx, sql, args...)
	}
	return execOne(t.one(ctx, sql, args))
}

func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.direct() {
		return t.conn.Query(ctx, sql, args...)
	}
	return queryOne(t.one(ctx, sql, args))
}

func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.direct() {
		return t.conn.QueryRow(ctx, sql, args...)
	}
	rows, err := t.Query(ctx, sql, args...)
	return batchRow{rows: rows, err: err}
}

// commit sends the held writes and COMMIT in one round trip; a
// transaction that sent nothing has nothing to commit. A held write's
// error comes back as the write's, as if it had been sent alone.
func (t *pipeTx) commit(ctx context.Context) error {
	if !t.begun && len(t.later) == 0 {
		return nil
	}
	tag, err := t.Exec(ctx, "COMMIT")
	var le leaderError
	switch {
	case errors.As(err, &le):
		return le.err
	case err != nil:
		return mapErr(fmt.Errorf("commit: %w", err))
	case tag.String() != "COMMIT":
		// An earlier statement failed and the error went unreported:
		// PostgreSQL answers the COMMIT of an aborted transaction with
		// ROLLBACK.
		return fmt.Errorf("commit: %w", pgx.ErrTxCommitRollback)
	}
	return nil
}

// rollback ends the transaction if it is still open, dropping the held
// writes. The pool destroys a connection released in a transaction, so a
// rollback that fails loses nothing.
func (t *pipeTx) rollback(ctx context.Context) {
	t.later = nil
	if t.conn.Conn().PgConn().TxStatus() == 'I' {
		return
	}
	t.conn.Exec(ctx, "ROLLBACK")
}

// ledResults are the results of a batch led by BEGIN or held writes: the
// first reads take the leaders' results, and the first leader that failed
// fails every read.
type ledResults struct {
	pgx.BatchResults
	what []string // the leaders whose results were not read yet
	err  error
}

// leaderError is the error of a statement that led a batch (BEGIN, a held
// write), told apart from the error of the statement it led.
type leaderError struct{ err error }

func (e leaderError) Error() string { return e.err.Error() }
func (e leaderError) Unwrap() error { return e.err }

func (l *ledResults) skip() error {
	for len(l.what) > 0 && l.err == nil {
		w := l.what[0]
		l.what = l.what[1:]
		if _, err := l.BatchResults.Exec(); err != nil {
			l.err = leaderError{fmt.Errorf("%s: %w", w, mapErr(err))}
		}
	}
	return l.err
}

func (l *ledResults) Exec() (pgconn.CommandTag, error) {
	if err := l.skip(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return l.BatchResults.Exec()
}

func (l *ledResults) Query() (pgx.Rows, error) {
	if err := l.skip(); err != nil {
		return nil, err
	}
	return l.BatchResults.Query()
}

func (l *ledResults) QueryRow() pgx.Row {
	if err := l.skip(); err != nil {
		return batchRow{err: err}
	}
	return l.BatchResults.QueryRow()
}

func (l *ledResults) Close() error {
	err := l.skip()
	if cerr := l.BatchResults.Close(); err == nil {
		err = cerr
	}
	return err
}
