package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// statementBudget is the most round trips submit + claim + complete may
// take (a batch, pipelined statements, is one).
const statementBudget = 6

// statementCounter counts the statements (BEGIN and COMMIT included) sent
// on a pool's connections, and keeps their text.
type statementCounter struct {
	mu   sync.Mutex
	on   bool
	sent []string
}

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	if c.on {
		c.sent = append(c.sent, d.SQL)
	}
	c.mu.Unlock()
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart counts a batch as one: the store sends a statement
// outside a transaction as a batch of it and its row-level security
// setting, one round trip (see scope.go).
func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	if c.on {
		sqls := make([]string, 0, d.Batch.Len())
		for _, q := range d.Batch.QueuedQueries {
			sqls = append(sqls, q.SQL)
		}
		c.sent = append(c.sent, strings.Join(sqls, "; "))
	}
	c.mu.Unlock()
	return ctx
}

func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

func (c *statementCounter) count(f func()) []string {
	c.mu.Lock()
	c.on, c.sent = true, nil
	c.mu.Unlock()
	f()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.sent
}

// TestStatementsPerTask counts the round trips of one task's life on
// PostgreSQL — submit with admission, a claim, a completion, BEGIN and
// COMMIT included — and holds them to statementBudget. A change that adds a
// round trip to the hot path fails here, with the statements listed.
//
// The budget is a ratchet: what the engine does today, lowered with each
// change that removes a statement. Issue #12 asks for 10; the gap is
// explained in BENCHMARKS.md.
func TestStatementsPerTask(t *testing.T) {
	tr := &statementCounter{}
	st, err := postgres.Open(t.Context(), testutil.PostgresSchema(t), 4, postgres.WithTracer(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := t.Context()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ws := store.Workspace{ID: ids.New(ids.Workspace), Name: "counted", Tier: "free", Status: api.WorkspaceActive,
		CreatedAt: now, UpdatedAt: now}
	key := store.Key{ID: ids.New(ids.Key), WorkspaceID: ws.ID, Name: "k", Prefix: "bk_counted", Hash: []byte("h"),
		Scopes: []string{"*"}, CreatedAt: now}
	if err := st.CreateWorkspace(ctx, ws, key); err != nil {
		t.Fatal(err)
	}
	admit := func(queued int, used store.Consumed) error { return nil }
	var task store.Task
	submit := tr.count(func() {
		task, _, err = st.CreateTask(ctx, store.Task{ID: ids.New(ids.Task), WorkspaceID: ws.ID, Queue: api.DefaultQueue,
			Status: api.TaskQueued, Input: []byte(`{}`), MaxAttempts: 1, CreatedAt: now, RunAt: now}, admit)
	})
	if err != nil {
		t.Fatal(err)
	}
	var claimed []store.Task
	claim := tr.count(func() {
		claimed, err = st.ClaimTasks(ctx, store.ClaimParams{WorkspaceID: ws.ID, Queues: []string{api.DefaultQueue},
			WorkerID: "w", Now: now, Lease: time.Minute, Max: 1,
			Slots: func(store.Workspace, int, store.Consumed) int { return 1 }})
	})
	if err != nil || len(claimed) != 1 || claimed[0].ID != task.ID {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	complete := tr.count(func() {
		_, err = st.Complete(ctx, ws.ID, task.ID, 1, store.Outcome{Status: api.TaskSucceeded, Output: []byte(`{}`), Now: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	// A claim that finds nothing — a worker's poll of an empty queue, the
	// most common claim of all — is BEGIN with the pick, and ROLLBACK.
	empty := tr.count(func() {
		_, err = st.ClaimTasks(ctx, store.ClaimParams{WorkspaceID: ws.ID, Queues: []string{api.DefaultQueue},
			WorkerID: "w", Now: now, Lease: time.Minute, Max: 1})
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim of an empty queue: %v, want store.ErrNotFound", err)
	}
	if len(empty) > 2 {
		for i, q := range empty {
			t.Logf("empty claim %d: %.120s", i+1, q)
		}
		t.Errorf("a claim of an empty queue = %d round trips, want at most 2", len(empty))
	}
	total := len(submit) + len(claim) + len(complete)
	t.Logf("round trips: submit %d, claim %d, complete %d, total %d", len(submit), len(claim), len(complete), total)
	if total > statementBudget {
		for _, part := range []struct {
			name string
			sql  []string
		}{{"submit", submit}, {"claim", claim}, {"complete", complete}} {
			for i, q := range part.sql {
				t.Logf("%s %d: %.120s", part.name, i+1, q)
			}
		}
		t.Errorf("submit + claim + complete = %d round trips, want at most %d", total, statementBudget)
	}
}
