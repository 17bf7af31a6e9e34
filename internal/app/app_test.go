package app

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

func testConfig(t *testing.T) config.Server {
	t.Helper()
	cfg, err := config.LoadServer(nil, func(k string) string {
		switch k {
		case "BATON_DATA_DIR":
			return t.TempDir()
		case "BATON_LISTEN":
			return "127.0.0.1:0"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadSecret("", dir)
	if err != nil || len(a) != 64 {
		t.Fatalf("generated secret %q, %v", a, err)
	}
	st, _ := os.Stat(filepath.Join(dir, secretFile))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", st.Mode().Perm())
	}
	b, _ := LoadSecret("", dir)
	if string(a) != string(b) {
		t.Fatal("secret not reused")
	}
	if _, err := LoadSecret("short", dir); err == nil {
		t.Fatal("short BATON_SECRET accepted")
	}
	env := strings.Repeat("s", 40)
	if c, _ := LoadSecret(env, dir); string(c) != env {
		t.Fatal("BATON_SECRET not preferred")
	}
}

func TestInitOnceAndEnsureOperatorKey(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	st, _, err := OpenMigrated(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secret, _ := LoadSecret("", cfg.DataDir)
	key, k, err := Init(ctx, st, secret, time.Now())
	if err != nil || !strings.HasPrefix(key, "bak_") || k.Scopes[0] != "admin" {
		t.Fatalf("Init = %q %+v %v", key, k, err)
	}
	if _, _, err := Init(ctx, st, secret, time.Now()); !errors.Is(err, ErrInitialized) {
		t.Fatalf("second Init err = %v", err)
	}
	again, err := EnsureOperatorKey(ctx, st, secret, key, "x", time.Now())
	if err != nil || again.ID != k.ID {
		t.Fatalf("EnsureOperatorKey existing = %+v %v", again, err)
	}
	boot, _ := auth.NewKey(auth.OperatorPrefix)
	if _, err := EnsureOperatorKey(ctx, st, secret, boot, "bootstrap", time.Now()); err != nil {
		t.Fatal(err)
	}
	ws, _ := auth.NewKey(auth.WorkspacePrefix)
	if _, err := EnsureOperatorKey(ctx, st, secret, ws, "bad", time.Now()); err == nil {
		t.Fatal("workspace key accepted as operator key")
	}
}

func TestOpenStoreRefusesUnknownURL(t *testing.T) {
	cfg := testConfig(t)
	cfg.DatabaseURL = "mysql://root:hunter2@db/x"
	_, _, err := OpenStore(context.Background(), cfg)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v (must refuse and hide the password)", err)
	}
}

// TestServeAndGracefulShutdown runs a real server on a loopback port with
// BATON_ADMIN_KEY bootstrapping, then cancels it: Serve returns nil.
func TestServeAndGracefulShutdown(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testServeAndShutdown(t, testConfig(t)) })
	t.Run("postgres", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.DatabaseURL = testutil.PostgresSchema(t)
		testServeAndShutdown(t, cfg)
	})
}

// testServeAndShutdown serves, answers a request, and shuts down: Serve
// returns only when every loop it and Prepare started has ended and the
// store is closed (on PostgreSQL, the pool's Close waits for the notifier's
// LISTEN connection, so a loop left running would hang here).
func testServeAndShutdown(t *testing.T, cfg config.Server) {
	cfg.AdminKey, _ = auth.NewKey(auth.OperatorPrefix)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Prepare(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	req, _ := http.NewRequest("GET", s.URL()+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+cfg.AdminKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("bootstrap admin key: status %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
	if err := s.Store.Ping(context.Background()); err == nil {
		t.Fatal("the store still answers after Serve returned")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after Serve = %v, want nil (idempotent)", err)
	}
}

// TestPrepareFailureReleasesEverything: a Prepare that fails late (the
// listen address is taken) closes the store it opened.
func TestPrepareFailureReleasesEverything(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t)
	// The store's connections carry a name of their own, so that other
	// tests on the same database are not counted.
	app := "baton_prepare_" + strings.ToLower(rand.Text())[:10]
	cfg.DatabaseURL = testutil.PostgresSchema(t) + "&application_name=" + app
	cfg.Listen = taken.Addr().String()
	if _, err := Prepare(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("Prepare on a taken address succeeded")
	}
	testutil.Eventually(t, 5*time.Second, "the failed Prepare's connections are closed",
		func() bool { return backends(t, cfg.DatabaseURL, app) == 0 })
}

// backends counts the connections named app.
func backends(t *testing.T, url, app string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The store's files are readable by their owner only: the database, its
// WAL and shared-memory files (0600), in a data dir of mode 0700; a
// database left 0644 by an older version is made private too.
func TestSQLiteFilesArePrivate(t *testing.T) {
	cfg := testConfig(t)
	cfg.DataDir = filepath.Join(cfg.DataDir, "data")
	db := filepath.Join(cfg.DataDir, "baton.db")
	for _, existing := range []bool{false, true} {
		if existing {
			if err := os.Chmod(db, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		st, _, err := OpenMigrated(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		for path, want := range map[string]os.FileMode{cfg.DataDir: 0o700 | os.ModeDir, db: 0o600, db + "-wal": 0o600, db + "-shm": 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want {
				t.Errorf("existing=%v: %s has mode %v, want %v", existing, filepath.Base(path), fi.Mode(), want)
			}
		}
		st.Close()
	}
}

// TestServerAsNonOwnerRole runs a real server as a PostgreSQL role that
// owns nothing and has no BYPASSRLS (after migrate --grant as the owner):
// it serves a workspace's task, and says at start that row-level security
// is in force; as the owner-superuser it warns that it is not.
func TestServerAsNonOwnerRole(t *testing.T) {
	cfg := testConfig(t)
	owner := testutil.PostgresSchema(t)
	cfg.DatabaseURL = owner
	st, _, err := OpenMigrated(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	const role = "baton_test_app"
	testutil.PostgresCreateRole(t, role)
	if err := GrantRole(t.Context(), st, role); err != nil {
		t.Fatal(err)
	}
	st.Close()

	schema := testutil.PostgresSchemaOf(t, owner)
	for _, c := range []struct {
		role, want string
	}{
		{role, "row-level security is in force"},
		{"postgres", "row-level security is NOT in force"},
	} {
		cfg.DatabaseURL = testutil.PostgresURL(t, testutil.PostgresAdminURL(t), c.role, schema)
		cfg.AdminKey, _ = auth.NewKey(auth.OperatorPrefix)
		var logs testutil.SyncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		s, err := Prepare(ctx, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			cancel()
			t.Fatalf("Prepare as %s: %v", c.role, err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx) }()
		if !strings.Contains(logs.String(), c.want) {
			t.Errorf("as %s the server logged %q; want %q", c.role, logs.String(), c.want)
		}
		// A workspace and a task, through the API.
		var wsKey string
		do := func(method, path, key, body string) int {
			req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if method == "POST" && path == "/v1/workspaces" {
				var out api.CreateWorkspaceResponse
				json.NewDecoder(res.Body).Decode(&out)
				wsKey = out.Key.Secret
			}
			return res.StatusCode
		}
		if got := do("POST", "/v1/workspaces", cfg.AdminKey, `{"name":"acme-`+c.role+`"}`); got != 201 {
			t.Errorf("as %s: create workspace = %d", c.role, got)
		}
		if got := do("POST", "/v1/tasks", wsKey, `{"input":{"n":1}}`); got != 201 {
			t.Errorf("as %s: submit = %d", c.role, got)
		}
		if got := do("GET", "/v1/tasks", wsKey, ""); got != 200 {
			t.Errorf("as %s: list = %d", c.role, got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve as %s = %v", c.role, err)
		}
	}
}
