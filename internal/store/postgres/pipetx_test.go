package postgres_test

import (
	"errors"
	"testing"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/testutil"
)

// pipeStore is a store on a schema of its own with a scratch table, and
// the counter of the round trips its pool sends.
func pipeStore(t *testing.T) (*postgres.Store, *statementCounter) {
	t.Helper()
	tr := &statementCounter{}
	st, err := postgres.Open(t.Context(), testutil.PostgresSchema(t), 2, postgres.WithTracer(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.ScopedExec(t.Context(), `CREATE TABLE scratch (n int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return st, tr
}

func scratchRows(t *testing.T, st *postgres.Store) int {
	t.Helper()
	var n int
	err := st.WithTx(t.Context(), func(tx *postgres.PipeTx) error {
		return tx.QueryRow(t.Context(), `SELECT count(*) FROM scratch`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPipeTxRoundTrips: BEGIN goes with the first statement, a held write
// with COMMIT, and a transaction that sends nothing costs nothing.
func TestPipeTxRoundTrips(t *testing.T) {
	st, tr := pipeStore(t)
	ctx := t.Context()
	sent := tr.count(func() {
		if err := st.WithTx(ctx, func(*postgres.PipeTx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if len(sent) != 0 {
		t.Errorf("an empty transaction sent %q, want nothing", sent)
	}
	var scope string
	sent = tr.count(func() {
		err := st.WithTx(store.WithScope(ctx, store.TenantScope("ws_a")), func(tx *postgres.PipeTx) error {
			if err := tx.QueryRow(ctx, `SELECT current_setting('baton.workspace_id')`).Scan(&scope); err != nil {
				return err
			}
			tx.Hold(`INSERT INTO scratch VALUES ($1)`, 1)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if scope != "ws_a" {
		t.Errorf("the first statement saw scope %q, want ws_a", scope)
	}
	if len(sent) != 2 {
		t.Errorf("read + held write + commit = %d round trips %q, want 2", len(sent), sent)
	}
	if n := scratchRows(t, st); n != 1 {
		t.Errorf("scratch has %d rows after the commit, want 1", n)
	}
}

// TestPipeTxHeldWriteIsSeenAndFailsTheCommit: a statement after a held
// write sees it, and a held write that fails fails the commit with its
// own error and leaves nothing of the transaction behind.
func TestPipeTxHeldWriteIsSeenAndFailsTheCommit(t *testing.T) {
	st, _ := pipeStore(t)
	ctx := t.Context()
	err := st.WithTx(ctx, func(tx *postgres.PipeTx) error {
		tx.Hold(`INSERT INTO scratch VALUES ($1)`, 1)
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM scratch`).Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			t.Errorf("a read after a held write saw %d rows, want 1", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = st.WithTx(ctx, func(tx *postgres.PipeTx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO scratch VALUES (2)`); err != nil {
			return err
		}
		tx.Hold(`INSERT INTO scratch VALUES ($1)`, 1) // taken
		return nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("commit after a held write that conflicts: %v, want store.ErrConflict", err)
	}
	if n := scratchRows(t, st); n != 1 {
		t.Errorf("scratch has %d rows after the failed transaction, want 1 (row 2 rolled back)", n)
	}
	// A held write that fails before another statement fails that one.
	err = st.WithTx(ctx, func(tx *postgres.PipeTx) error {
		tx.Hold(`INSERT INTO scratch VALUES ($1)`, 1)
		_, err := tx.Exec(ctx, `INSERT INTO scratch VALUES (3)`)
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a statement after a held write that conflicts: %v, want store.ErrConflict", err)
	}
	if n := scratchRows(t, st); n != 1 {
		t.Errorf("scratch has %d rows, want 1 (row 3 not committed)", n)
	}
}

// TestPipeTxRollsBackAndTheConnectionGoesOn: a transaction whose first
// statement fails, or whose function fails after a statement, is rolled
// back, and the pool's connections (two) serve the next transactions.
func TestPipeTxRollsBackAndTheConnectionGoesOn(t *testing.T) {
	st, _ := pipeStore(t)
	ctx := t.Context()
	for i := range 3 {
		if err := st.WithTx(ctx, func(tx *postgres.PipeTx) error {
			_, err := tx.Exec(ctx, `INSERT INTO no_such_table VALUES (1)`)
			return err
		}); err == nil {
			t.Fatal("a statement on a missing table succeeded")
		}
		errStop := errors.New("stop")
		if err := st.WithTx(ctx, func(tx *postgres.PipeTx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO scratch VALUES ($1)`, 10+i); err != nil {
				return err
			}
			tx.Hold(`INSERT INTO scratch VALUES ($1)`, 20+i)
			return errStop
		}); !errors.Is(err, errStop) {
			t.Fatalf("transaction = %v, want its function's error", err)
		}
	}
	if n := scratchRows(t, st); n != 0 {
		t.Errorf("scratch has %d rows after rolled-back transactions, want 0", n)
	}
}
