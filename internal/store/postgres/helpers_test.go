package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// testNow is the time the engine tests' rows are made at.
var testNow = time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)

// migratedStore opens a migrated store on a fresh schema, its connections
// named by a random application_name (to find them in pg_stat_activity),
// and returns it with the schema's URL and that name.
func migratedStore(t *testing.T) (s *postgres.Store, url, app string) {
	t.Helper()
	url = schemaURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	app = "baton_test_" + hex.EncodeToString(b)
	s = openURL(t, url+"&application_name="+app)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s, url, app
}

// workspaceWithTasks creates workspace name with n queued tasks in queue q
// at testNow, and returns it and the tasks' ids in creation order.
func workspaceWithTasks(t *testing.T, s *postgres.Store, name, q string, n int) (store.Workspace, []string) {
	t.Helper()
	ctx := t.Context()
	ws := store.Workspace{ID: ids.New(ids.Workspace), Name: name, Tier: "free", Status: api.WorkspaceActive,
		CreatedAt: testNow, UpdatedAt: testNow}
	key := store.Key{ID: ids.New(ids.Key), WorkspaceID: ws.ID, Name: "k", Prefix: "bk_" + name,
		Hash: []byte("hash-" + name), CreatedAt: testNow}
	if err := s.CreateWorkspace(ctx, ws, key); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	tasks := make([]string, n)
	for i := range tasks {
		task := store.Task{ID: ids.New(ids.Task), WorkspaceID: ws.ID, Queue: q, Input: json.RawMessage(`{}`),
			MaxAttempts: 1, RunAt: testNow, CreatedAt: testNow}
		if _, _, err := s.CreateTask(ctx, task, nil); err != nil {
			t.Fatalf("CreateTask: %v", err)
		}
		tasks[i] = task.ID
	}
	return ws, tasks
}

// connect opens a connection of the test's own to url in the system scope
// (row-level security binds it too), closed when the test ends.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	if _, err := c.Exec(t.Context(), `SELECT set_config('baton.workspace_id', '*', false)`); err != nil {
		t.Fatalf("scope: %v", err)
	}
	return c
}

// holding begins a transaction on a connection of its own to url that runs
// lock with args — what another transaction in flight holds — and returns
// it; it is rolled back when the test ends unless the test ends it first.
func holding(t *testing.T, url, lock string, args ...any) pgx.Tx {
	t.Helper()
	tx, err := connect(t, url).Begin(t.Context())
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), lock, args...); err != nil {
		t.Fatalf("%s: %v", lock, err)
	}
	return tx
}

// awaitLockWait waits until a connection named app waits for a lock.
func awaitLockWait(t *testing.T, url, app string) {
	t.Helper()
	c := connect(t, url)
	testutil.Eventually(t, 10*time.Second, "a claim waits for a lock", func() bool {
		var waiting int
		if err := c.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting); err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		return waiting > 0
	})
}
