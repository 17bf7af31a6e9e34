package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// bundle is one test server with an operator key and a settable clock.
type bundle struct {
	t      testing.TB // a *testing.T, or the *testing.F of a fuzz target's server
	srv    *Server
	http   *httptest.Server
	store  store.Store
	secret []byte
	admin  string // operator key secret

	clk *testutil.Clock
}

func (b *bundle) clock() time.Time { return b.clk.Now() }

// advance moves the server's clock forward.
func (b *bundle) advance(d time.Duration) { b.clk.Advance(d) }

func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, nil)
}

// setupWith is setup with a last say on the server's Config.
//
// The store is SQLite, or PostgreSQL when BATON_TEST_SERVER_STORE is
// "postgres" (CI runs this package's tests both ways): every HTTP test,
// its contract check and its tenant checks then also run on PostgreSQL
// under row-level security, as a role it binds.
func setupWith(t testing.TB, configure func(*Config)) *bundle {
	t.Helper()
	return setupStore(t, testStore(t), configure)
}

// testStore is the store of setupWith, not yet migrated.
func testStore(t testing.TB) migratingStore {
	t.Helper()
	if os.Getenv("BATON_TEST_SERVER_STORE") == "postgres" {
		st, err := postgres.Open(context.Background(), testutil.PostgresSchema(t), 8)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "baton.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// migratingStore is a store that migrates its own schema (both backends).
type migratingStore interface {
	store.Store
	Migrate(context.Context) error
}

// setupStore is setupWith on a store of the caller's (migrated and closed
// here).
func setupStore(t testing.TB, st migratingStore, configure func(*Config)) *bundle {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return setupOn(t, st, configure)
}

// setupOn is setupWith on a migrated store of the caller's.
func setupOn(t testing.TB, st store.Store, configure func(*Config)) *bundle {
	t.Helper()
	b := &bundle{t: t, store: st, secret: []byte("test-secret-0123456789abcdef0123456789"), clk: testutil.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))}
	cfg := Config{Store: st, Secret: b.secret, Tiers: config.DefaultTiers(), DefaultTier: "free", Now: b.clock,
		Logger: slog.New(slog.DiscardHandler), Version: "test"}
	if configure != nil {
		configure(&cfg)
	}
	var err error
	b.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.http = httptest.NewServer(contract(t.Errorf, b.srv)) // checked against api/openapi.json (contract_test.go)
	t.Cleanup(b.http.Close)

	b.admin, _ = auth.NewKey(auth.OperatorPrefix)
	k := store.Key{ID: ids.New(ids.Key), Name: "admin", Prefix: auth.PublicPrefix(b.admin), Hash: auth.NewHasher(b.secret).Hash(b.admin),
		Scopes: []string{api.ScopeAdmin}, CreatedAt: b.clock()}
	if err := st.CreateKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return b
}

// resp is a decoded response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) problem(t *testing.T) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("not a problem body (status %d): %s", r.Status, r.Body)
	}
	if r.Header.Get("Content-Type") != api.ProblemContentType {
		t.Fatalf("problem content type = %q", r.Header.Get("Content-Type"))
	}
	return p
}

// req sends a request with credential cred ("" for none) and a raw body.
func (b *bundle) req(method, path, cred string, body string, headers ...string) resp {
	b.t.Helper()
	return b.do(method, path, cred, body, true, headers...)
}

// do sends one request; the answer's body is read unless it is an event
// stream and readStreams is false (send).
func (b *bundle) do(method, path, cred, body string, readStreams bool, headers ...string) resp {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // ends an unread event stream
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequestWithContext(ctx, method, b.http.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if cred != "" {
		r.Header.Set("Authorization", "Bearer "+cred)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.http.Client().Do(r)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	var data []byte
	if readStreams || res.Header.Get("Content-Type") != "text/event-stream" {
		data, _ = io.ReadAll(res.Body)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: data}
}

// call sends v as JSON and decodes the response into out, failing the test
// unless the status is want.
func (b *bundle) call(method, path, cred string, v any, want int, out any, headers ...string) resp {
	b.t.Helper()
	body := ""
	if v != nil {
		raw, _ := json.Marshal(v)
		body = string(raw)
	}
	r := b.req(method, path, cred, body, headers...)
	if r.Status != want {
		b.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			b.t.Fatalf("%s %s: decode: %v: %s", method, path, err, r.Body)
		}
	}
	return r
}

// tenant is a workspace with its all-scopes key.
type tenant struct {
	ws  api.Workspace
	key string
}

func (b *bundle) newTenant(name string) tenant {
	b.t.Helper()
	var out api.CreateWorkspaceResponse
	b.call("POST", "/v1/workspaces", b.admin, api.CreateWorkspaceRequest{Name: name, Tier: "pro"}, 201, &out)
	return tenant{ws: out.Workspace, key: out.Key.Secret}
}

// newKey creates a key in t's workspace with the given scopes.
func (b *bundle) newKey(cred string, scopes ...string) api.Key {
	b.t.Helper()
	var k api.Key
	b.call("POST", "/v1/keys", cred, api.CreateKeyRequest{Name: "k", Scopes: scopes}, 201, &k)
	return k
}

func wantProblem(t *testing.T, r resp, status int, code api.Code) api.Problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	p := r.problem(t)
	if p.Code != code || p.Status != status || p.RequestID == "" || p.Type != "/docs/errors#"+string(code) {
		t.Fatalf("problem = %+v, want code %s status %d", p, code, status)
	}
	return p
}

var bigBody = `{"name": "` + strings.Repeat("x", 2<<20) + `"}`

func pageAll() store.Page { return store.Page{Limit: 1000} }

func lower(s string) string { return strings.ToLower(s) }
