package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/pkg/api"
)

// TestClaimAroundLockedWorkspace holds a workspace's claim lock (its
// claim_locks row), as a concurrent claim does: a shared claim serves another
// workspace without waiting, and a claim of that workspace waits for the
// lock instead of reporting nothing to claim.
func TestClaimAroundLockedWorkspace(t *testing.T) {
	ctx := t.Context()
	s, u, app := migratedStore(t)
	// "locked" is created first, so round robin would pick it first.
	locked, _ := workspaceWithTasks(t, s, "locked", "q", 1)
	free, _ := workspaceWithTasks(t, s, "free", "q", 1)
	tx := holding(t, u, `SELECT 1 FROM claim_locks WHERE workspace_id = $1 FOR UPDATE`, locked.ID)

	p := store.ClaimParams{WorkspaceID: store.AnyWorkspace, Queues: []string{"q"}, WorkerID: "w", Now: testNow, Lease: time.Minute}
	got, err := s.ClaimTasks(ctx, p)
	if err != nil || len(got) != 1 || got[0].WorkspaceID != free.ID {
		t.Fatalf("shared claim = %v, %v; want free's task at once", got, err)
	}

	type result struct {
		t   store.Task
		err error
	}
	done := make(chan result, 1)
	go func() {
		p := p
		p.WorkspaceID = locked.ID
		got, err := s.ClaimTasks(ctx, p)
		var one store.Task
		if len(got) > 0 {
			one = got[0]
		}
		done <- result{one, err}
	}()
	// Wait until the claim blocks on the lock, then release it.
	awaitLockWait(t, u, app)
	select {
	case r := <-done:
		t.Fatalf("claim of the locked workspace returned %s, %v without waiting", r.t.ID, r.err)
	default:
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	r := <-done
	if r.err != nil || r.t.WorkspaceID != locked.ID {
		t.Fatalf("claim after the lock was released = %s, %v; want the locked workspace's task", r.t.WorkspaceID, r.err)
	}
}

// TestClaimSkipsWorkspaceWhoseTasksAreHeld: while a claim in flight holds a
// workspace's lock and its only claimable task, another claim of that
// workspace answers "nothing to claim" at once instead of queueing on the
// workspace's lock — so the idle claimers one submit wakes do not line up
// (and the next submit behind them) for a task the first one took.
func TestClaimSkipsWorkspaceWhoseTasksAreHeld(t *testing.T) {
	ctx := t.Context()
	s, u, _ := migratedStore(t)
	ws, tasks := workspaceWithTasks(t, s, "held", "q", 1)
	// What a claim in flight holds: the claim lock and the task it picked.
	tx := holding(t, u, `SELECT 1 FROM claim_locks WHERE workspace_id = $1 FOR UPDATE`, ws.ID)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE`, tasks[0]); err != nil {
		t.Fatalf("lock task: %v", err)
	}
	// A lock wait would hang here until the deadline.
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := s.ClaimTasks(cctx, store.ClaimParams{WorkspaceID: ws.ID, Queues: []string{"q"}, WorkerID: "w2",
		Now: testNow, Lease: time.Minute, Max: 1})
	if len(got) != 0 || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim while the only task is held = %v, %v; want store.ErrNotFound at once", got, err)
	}
}

// TestClaimUsesTheIndexAtDepth: with a deep queue behind another
// workspace's finished tasks in the heap, the statements that find
// claimable work plan an index scan of tasks, never a sequential one. (An
// EXISTS there planned a sequential scan, estimating a queued row would be
// met at once, and read every finished task ahead of them on each claim:
// the deep-queue claim rate fell 7×; see candidatesQuery.)
func TestClaimUsesTheIndexAtDepth(t *testing.T) {
	ctx := t.Context()
	u := schemaURL(t)
	s := openURL(t, u)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	var wss []store.Workspace
	var templates []string
	for _, name := range []string{"done", "deep"} {
		ws := store.Workspace{ID: ids.New(ids.Workspace), Name: name, Tier: "free", Status: api.WorkspaceActive, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateWorkspace(ctx, ws, store.Key{ID: ids.New(ids.Key), WorkspaceID: ws.ID, Name: "k",
			Prefix: "bk_" + name, Hash: []byte("h-" + name), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		task := store.Task{ID: ids.New(ids.Task), WorkspaceID: ws.ID, Queue: "q", Input: json.RawMessage(`{}`), MaxAttempts: 1, RunAt: now, CreatedAt: now}
		if _, _, err := s.CreateTask(ctx, task, nil); err != nil {
			t.Fatal(err)
		}
		wss = append(wss, ws)
		templates = append(templates, task.ID)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT set_config('baton.workspace_id', '*', false)`); err != nil {
		t.Fatal(err)
	}
	// 20 000 copies of each template: the finished ones first in the heap.
	cols, err := pgx.CollectRows(must(conn.Query(ctx, `SELECT column_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'tasks' ORDER BY ordinal_position`)), pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for i, status := range []string{"succeeded", "queued"} {
		sel := make([]string, len(cols))
		for j, c := range cols {
			switch c {
			case "id":
				sel[j] = fmt.Sprintf("'task_%d' || lpad(g::text, 25, '0')", i)
			case "status":
				sel[j] = "'" + status + "'"
			default:
				sel[j] = "t." + c
			}
		}
		if _, err := conn.Exec(ctx, `INSERT INTO tasks (`+strings.Join(cols, ", ")+`) SELECT `+strings.Join(sel, ", ")+`
			FROM tasks t, generate_series(1, 20000) g WHERE t.id = $1`, templates[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `ANALYZE tasks`); err != nil {
		t.Fatal(err)
	}
	p := store.ClaimParams{WorkspaceID: store.AnyWorkspace, Queues: []string{"q"}, WorkerID: "w", Now: now, Lease: time.Minute}
	shared, sharedArgs := postgres.CandidatesQuery(p)
	p.WorkspaceID = wss[1].ID
	for _, c := range []struct {
		name string
		sql  string
		args []any
	}{
		{"shared candidates", shared, sharedArgs},
		{"pick", postgres.PickQuery(p.Queues, true), []any{wss[1].ID, "q", now, 16, now}},
		{"unheld task", postgres.UnheldTaskQuery(p.Queues), []any{wss[1].ID, "q", now}},
	} {
		plan, err := pgx.CollectRows(must(conn.Query(ctx, "EXPLAIN "+c.sql, c.args...)), pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if text := strings.Join(plan, "\n"); strings.Contains(text, "Seq Scan on tasks") {
			t.Errorf("%s scans tasks sequentially:\n%s", c.name, text)
		}
	}
}

// TestClaimAfterTheLockCountsTheClaimBefore: a claim whose statement
// began before another claim of its workspace committed (it waited for the
// claim lock meanwhile) must count that claim's running task against the
// concurrency cap. The pick reads the counts with its snapshot, from before
// the wait; the newer version of the claim lock's row under the lock tells
// it to read them again. Here the test's transaction plays the other claim:
// it holds the lock, starts one of two tasks and stamps the claim lock, as a
// claim does, and commits once the store's claim waits.
// With a cap of one running task, the store's claim then takes nothing.
func TestClaimAfterTheLockCountsTheClaimBefore(t *testing.T) {
	ctx := t.Context()
	s, u, app := migratedStore(t)
	ws, tasks := workspaceWithTasks(t, s, "capped", "q", 2)
	tx := holding(t, u, `SELECT 1 FROM claim_locks WHERE workspace_id = $1 FOR UPDATE`, ws.ID)
	var slotsAsked []int
	capOne := func(_ store.Workspace, running int, _ store.Consumed) int {
		slotsAsked = append(slotsAsked, running)
		return 1 - running
	}
	type result struct {
		got []store.Task
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := s.ClaimTasks(ctx, store.ClaimParams{WorkspaceID: ws.ID, Queues: []string{"q"}, WorkerID: "w",
			Now: testNow, Lease: time.Minute, Max: 2, Slots: capOne})
		done <- result{got, err}
	}()
	awaitLockWait(t, u, app)
	// The other claim: one task started, the claim lock stamped, as a
	// workspace worker's claim does.
	if _, err := tx.Exec(ctx, `UPDATE tasks SET status = 'running', attempt = 1 WHERE id = $1`, tasks[0]); err != nil {
		t.Fatalf("start task: %v", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE claim_locks SET claims = claims + 1 WHERE workspace_id = $1`, ws.ID); err != nil {
		t.Fatalf("stamp the claim lock: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	r := <-done
	if len(r.got) != 0 || !errors.Is(r.err, store.ErrNotFound) {
		t.Fatalf("claim after another claim filled the cap = %d tasks, %v; want none (store.ErrNotFound)", len(r.got), r.err)
	}
	if len(slotsAsked) == 0 || slotsAsked[len(slotsAsked)-1] != 1 {
		t.Errorf("running counts the cap was asked with = %v; want the last to be 1", slotsAsked)
	}
}

func must(rows pgx.Rows, err error) pgx.Rows {
	if err != nil {
		panic(err)
	}
	return rows
}

// TestSubmitsAndClaimsDoNotWaitForEachOther: a submit locks its
// workspace's row for admission (the queued cap) and a claim takes the
// workspace's claim lock (the concurrency cap): with a claim in flight —
// its claim lock held — a submit of the workspace goes through at once, and
// with a submit in flight — the workspace row held — so does a claim.
func TestSubmitsAndClaimsDoNotWaitForEachOther(t *testing.T) {
	ctx := t.Context()
	s, u, _ := migratedStore(t)
	ws, _ := workspaceWithTasks(t, s, "apart", "q", 1)
	admit := func(int, store.Consumed) error { return nil }
	for _, c := range []struct {
		name, lock string
		do         func(context.Context) error
	}{
		{"submit during a claim", `SELECT 1 FROM claim_locks WHERE workspace_id = $1 FOR UPDATE`, func(ctx context.Context) error {
			_, _, err := s.CreateTask(ctx, store.Task{ID: ids.New(ids.Task), WorkspaceID: ws.ID, Queue: "q",
				Input: json.RawMessage(`{}`), MaxAttempts: 1, RunAt: testNow, CreatedAt: testNow}, admit)
			return err
		}},
		{"claim during a submit", `SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`, func(ctx context.Context) error {
			_, err := s.ClaimTasks(ctx, store.ClaimParams{WorkspaceID: ws.ID, Queues: []string{"q"}, WorkerID: "w",
				Now: testNow, Lease: time.Minute, Max: 1})
			return err
		}},
	} {
		tx := holding(t, u, c.lock, ws.ID)
		// A wait for the lock would last until this deadline.
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.do(cctx)
		cancel()
		tx.Rollback(context.Background())
		if err != nil {
			t.Errorf("%s: %v (it waited for the other's lock)", c.name, err)
		}
	}
}
