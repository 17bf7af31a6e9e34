package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/pkg/api"
)

// TestTaskCountsDoNotSerializeTransitions: a claim (queued → running) and a
// completion (running → succeeded) of one workspace and queue, in flight
// at once on two connections, both change the running count; with one
// count row per (workspace, queue, status) the second waited for the
// first's commit (and a claim holds its workspace's lock meanwhile). Each
// backend counts on its own shard (migration 00010), so neither waits —
// here, under a lock timeout that fails the test if one does — and the
// summed counts are exact after both commit.
func TestTaskCountsDoNotSerializeTransitions(t *testing.T) {
	ctx := t.Context()
	s, u, _ := migratedStore(t)
	ws, tasks := workspaceWithTasks(t, s, "sharded", "q", 2)
	// Two connections on different shards (backend pids apart modulo 16).
	onShard := func() (*pgx.Conn, int) {
		c := connect(t, u)
		if _, err := c.Exec(ctx, `SET lock_timeout = '5s'`); err != nil {
			t.Fatalf("lock_timeout: %v", err)
		}
		return c, int(c.PgConn().PID() % 16)
	}
	a, shardA := onShard()
	var b *pgx.Conn
	for range 32 {
		c, shard := onShard()
		if shard != shardA {
			b = c
			break
		}
	}
	if b == nil {
		t.Fatal("no second connection on another shard")
	}
	if _, err := a.Exec(ctx, `UPDATE tasks SET status = 'running', attempt = 1 WHERE id = $1`, tasks[0]); err != nil {
		t.Fatalf("start the first task: %v", err)
	}
	txA, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback(context.Background())
	txB, err := b.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txB.Rollback(context.Background())
	if _, err := txA.Exec(ctx, `UPDATE tasks SET status = 'succeeded' WHERE id = $1`, tasks[0]); err != nil {
		t.Fatalf("complete: %v", err)
	}
	if _, err := txB.Exec(ctx, `UPDATE tasks SET status = 'running', attempt = 1 WHERE id = $1`, tasks[1]); err != nil {
		t.Fatalf("claim while a completion of the workspace is in flight: %v (it waited on the count row)", err)
	}
	if err := txB.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for status, want := range map[string]int{api.TaskQueued: 0, api.TaskRunning: 1, api.TaskSucceeded: 1} {
		if n, err := s.CountTasks(ctx, ws.ID, status); err != nil || n != want {
			t.Errorf("CountTasks(%s) = %d, %v; want %d", status, n, err, want)
		}
	}
}

// TestTasksAreVacuumedLikeAQueue: migration 00012 has autovacuum visit
// tasks at 1 % dead rows, not the default 20 %.
func TestTasksAreVacuumedLikeAQueue(t *testing.T) {
	ctx := t.Context()
	s, _, _ := migratedStore(t)
	got, err := s.ScopedStrings(ctx, `SELECT array_to_string(reloptions, ',') FROM pg_class
		WHERE oid = 'tasks'::regclass`)
	if err != nil || len(got) != 1 {
		t.Fatalf("reloptions of tasks: %v, %v", got, err)
	}
	for _, want := range []string{"autovacuum_vacuum_scale_factor=0.01", "autovacuum_vacuum_threshold=1000",
		"autovacuum_analyze_scale_factor=0.02"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("tasks reloptions %q lack %s", got[0], want)
		}
	}
}
