package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

func TestWorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var created api.CreateWorkspaceResponse
	b.call("POST", "/v1/workspaces", b.admin, api.CreateWorkspaceRequest{Name: "acme"}, 201, &created)
	ws := created.Workspace
	if ws.Tier != "free" || ws.Status != api.WorkspaceActive || ws.Limits.MaxConcurrentTasks != 2 || created.Key.Secret == "" || created.Key.Scopes[0] != "*" {
		t.Fatalf("created = %+v", created)
	}
	wantProblem(t, b.req("POST", "/v1/workspaces", b.admin, `{"name":"acme"}`), 409, api.CodeConflict)

	var upd api.Workspace
	b.call("PATCH", "/v1/workspaces/"+ws.ID, b.admin, map[string]any{"tier": "pro", "overrides": map[string]any{"max_concurrent_tasks": 20}}, 200, &upd)
	if upd.Tier != "pro" || upd.Limits.MaxConcurrentTasks != 20 || upd.Limits.Burst != 100 || upd.Overrides["max_concurrent_tasks"] != 20 {
		t.Fatalf("updated = %+v", upd)
	}
	upd = api.Workspace{}
	b.call("PATCH", "/v1/workspaces/"+ws.ID, b.admin, map[string]any{"overrides": map[string]any{"max_concurrent_tasks": nil}}, 200, &upd)
	if upd.Limits.MaxConcurrentTasks != 10 || len(upd.Overrides) != 0 {
		t.Fatalf("after unset = %+v", upd)
	}
	var own api.Workspace
	b.call("GET", "/v1/workspaces/"+ws.ID, created.Key.Secret, nil, 200, &own)
	if own.ID != ws.ID || own.Tier != "pro" {
		t.Fatalf("own = %+v", own)
	}

	audit, err := b.store.ListAudit(t.Context(), ws.ID, pageAll())
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action)
		if e.RequestID == "" || e.Actor == "" {
			t.Fatalf("audit event without actor or request id: %+v", e)
		}
	}
	want := "[workspace.created key.created workspace.tier_changed workspace.limits_changed workspace.limits_changed]"
	if fmt.Sprint(actions) != want {
		t.Fatalf("audit = %v, want %s", actions, want)
	}

	b.call("DELETE", "/v1/workspaces/"+ws.ID, b.admin, nil, 204, nil)
	wantProblem(t, b.req("GET", "/v1/workspaces/"+ws.ID, b.admin, ""), 404, api.CodeNotFound)
	wantProblem(t, b.req("GET", "/v1/me", created.Key.Secret, ""), 401, api.CodeUnauthenticated)
	wantProblem(t, b.req("DELETE", "/v1/workspaces/"+ws.ID, b.admin, ""), 404, api.CodeNotFound)
}

func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	k := b.newKey(a.key, api.ScopeKeysRead)
	if len(k.Secret) != 3+43+6 || k.Prefix != k.Secret[:11] || k.LastUsedAt != nil {
		t.Fatalf("key = %+v", k)
	}
	// Reads never return the secret.
	r := b.call("GET", "/v1/keys/"+k.ID, a.key, nil, 200, nil)
	var raw map[string]any
	_ = json.Unmarshal(r.Body, &raw)
	if _, ok := raw["secret"]; ok {
		t.Fatalf("GET returned a secret: %s", r.Body)
	}
	// Use sets last_used_at (written in the background, at most once a
	// minute per key: FlushUsage writes it now).
	b.call("GET", "/v1/me", k.Secret, nil, 200, nil)
	if err := b.srv.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got api.Key
	b.call("GET", "/v1/keys/"+k.ID, a.key, nil, 200, &got)
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(b.clock()) {
		t.Fatalf("last_used_at = %v", got.LastUsedAt)
	}

	// Rotation: the old secret works until the grace period ends.
	var rot api.Key
	b.call("POST", "/v1/keys/"+k.ID+"/rotate", a.key, api.RotateKeyRequest{Grace: "1h"}, 200, &rot)
	if rot.Secret == "" || rot.Secret == k.Secret || rot.ID != k.ID || !rot.PreviousExpiresAt.Equal(b.clock().Add(time.Hour)) {
		t.Fatalf("rotated = %+v", rot)
	}
	b.call("GET", "/v1/me", k.Secret, nil, 200, nil)
	b.call("GET", "/v1/me", rot.Secret, nil, 200, nil)
	b.advance(time.Hour + time.Second)
	wantProblem(t, b.req("GET", "/v1/me", k.Secret, ""), 401, api.CodeUnauthenticated)
	b.call("GET", "/v1/me", rot.Secret, nil, 200, nil)

	// Revocation is immediate, idempotent, and blocks rotation.
	var rev api.Key
	b.call("DELETE", "/v1/keys/"+k.ID, a.key, nil, 200, &rev)
	if rev.RevokedAt == nil {
		t.Fatal("revoked_at not set")
	}
	wantProblem(t, b.req("GET", "/v1/me", rot.Secret, ""), 401, api.CodeUnauthenticated)
	b.call("DELETE", "/v1/keys/"+k.ID, a.key, nil, 200, nil)
	wantProblem(t, b.req("POST", "/v1/keys/"+k.ID+"/rotate", a.key, ""), 409, api.CodeConflict)
}

func TestOperatorKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var k api.Key
	b.call("POST", "/v1/keys", b.admin, api.CreateKeyRequest{Name: "ops"}, 201, &k)
	if k.Secret[:4] != "bak_" || k.WorkspaceID != "" || k.Scopes[0] != api.ScopeAdmin {
		t.Fatalf("operator key = %+v", k)
	}
	b.call("GET", "/v1/workspaces", k.Secret, nil, 200, nil)
	wantProblem(t, b.req("POST", "/v1/keys", b.admin, `{"scopes":["keys:read"]}`), 422, api.CodeValidationFailed)
	var list api.List[api.Key]
	b.call("GET", "/v1/keys", b.admin, nil, 200, &list)
	if len(list.Data) != 2 {
		t.Fatalf("operator keys = %d", len(list.Data))
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := range 25 {
		b.newTenant(fmt.Sprintf("ws-%02d", i))
	}
	seen := map[string]bool{}
	path, pages := "/v1/workspaces?limit=10", 0
	for {
		var l api.List[api.Workspace]
		b.call("GET", path, b.admin, nil, 200, &l)
		pages++
		for _, w := range l.Data {
			if seen[w.ID] {
				t.Fatalf("duplicate %s", w.ID)
			}
			seen[w.ID] = true
		}
		if l.NextCursor == nil {
			break
		}
		path = "/v1/workspaces?limit=10&cursor=" + *l.NextCursor
	}
	if len(seen) != 25 || pages != 3 {
		t.Fatalf("saw %d workspaces in %d pages", len(seen), pages)
	}
	// A cursor from another list is refused.
	var l api.List[api.Workspace]
	b.call("GET", "/v1/workspaces?limit=1", b.admin, nil, 200, &l)
	wantProblem(t, b.req("GET", "/v1/keys?cursor="+*l.NextCursor, b.admin, ""), 400, api.CodeInvalidRequest)
}

// TestManyWorkspacesAndKeys creates 100 workspaces with 10 keys each through
// the API, then verifies every key authenticates as its own workspace.
func TestManyWorkspacesAndKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1000 keys")
	}
	t.Parallel()
	b := setup(t)
	type made struct{ ws, secret, id string }
	var (
		mu   sync.Mutex
		all  []made
		wg   sync.WaitGroup
		errs = make(chan error, 100)
	)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ten := b.newTenant(fmt.Sprintf("tenant-%03d", i))
			for j := range 10 {
				k := b.newKey(ten.key, api.ScopeKeysRead)
				if j == 0 && k.WorkspaceID != ten.ws.ID {
					errs <- fmt.Errorf("key in %s, want %s", k.WorkspaceID, ten.ws.ID)
				}
				mu.Lock()
				all = append(all, made{ten.ws.ID, k.Secret, k.ID})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(all) != 1000 {
		t.Fatalf("made %d keys", len(all))
	}
	for _, m := range all {
		var me api.Me
		b.call("GET", "/v1/me", m.secret, nil, 200, &me)
		if me.Key.ID != m.id || me.Workspace.ID != m.ws {
			t.Fatalf("key %s authenticated as %s/%s", m.id, me.Workspace.ID, me.Key.ID)
		}
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	b.call("GET", "/openapi.json", "", nil, 200, &doc)
	if doc.OpenAPI != "3.0.3" { // 3.0: see internal/openapi
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	n := 0
	for _, ops := range doc.Paths {
		n += len(ops)
	}
	if n != len(b.srv.routes) {
		t.Fatalf("document has %d operations, server %d routes", n, len(b.srv.routes))
	}
	for _, rt := range b.srv.routes {
		op, ok := doc.Paths[rt.path][lower(rt.method)]
		if !ok || op["summary"] == "" {
			t.Errorf("route %s %s missing from /openapi.json", rt.method, rt.path)
		}
	}
}

func TestHealthAndReady(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.call("GET", "/healthz", "", nil, 200, nil)
	b.call("GET", "/readyz", "", nil, 200, nil)
	b.srv.Drain()
	b.call("GET", "/readyz", "", nil, 503, nil)
	b.call("GET", "/healthz", "", nil, 200, nil)
}

func TestErrorDocsCoverEveryCode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.call("GET", "/docs/errors", "", nil, 200, nil)
	for _, c := range api.Codes() {
		if errorDocs[c] == "" || !strings.Contains(string(r.Body), `id="`+string(c)+`"`) {
			t.Errorf("code %s is not documented at /docs/errors", c)
		}
	}
}

// TestStoreDownIs503: with the store gone, requests are 503 unavailable
// (clients retry), not 500, and /readyz fails.
func TestStoreDownIs503(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	b.store.Close()
	r := b.req("GET", "/v1/keys", a.key, "")
	wantProblem(t, r, 503, api.CodeUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	b.call("GET", "/readyz", "", nil, 503, nil)
}

// TestRequestTimeoutBoundsWork: a request's context carries the timeout,
// except on the routes that stream or long-poll.
func TestRequestTimeoutBoundsWork(t *testing.T) {
	t.Parallel()
	b := setup(t)
	deadlines := map[string]bool{}
	for _, rt := range b.srv.routes {
		rt := rt
		h := b.srv.wrap(route{method: rt.method, path: rt.path, scope: public, stream: rt.stream,
			h: func(w http.ResponseWriter, r *http.Request, _ *principal) error {
				_, ok := r.Context().Deadline()
				deadlines[rt.method+" "+rt.path] = ok
				return nil
			}})
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(rt.method, "/", nil))
	}
	for k, has := range deadlines {
		stream := k == "POST /v1/tasks/claim" || k == "GET /v1/tasks/{id}/events" || k == "GET /v1/usage/stream"
		if has == stream {
			t.Errorf("%s: deadline %v, want %v", k, has, !stream)
		}
	}
}

// TestRequestTimeoutIs503: work cut by the server's own request timeout is
// answered 503 with Retry-After (the transaction was rolled back; the client
// may retry), logged as a warning and not reported as a bug.
func TestRequestTimeoutIs503(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	b := setupWith(t, func(cfg *Config) {
		cfg.RequestTimeout = 20 * time.Millisecond
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	h := b.srv.wrap(route{method: "GET", path: "/slow", scope: public,
		h: func(w http.ResponseWriter, r *http.Request, _ *principal) error {
			<-r.Context().Done() // a store call waiting past the timeout
			return fmt.Errorf("complete task: %w", r.Context().Err())
		}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("timed-out request: %d, Retry-After %q; want 503 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	var p api.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != api.CodeUnavailable {
		t.Fatalf("problem = %+v, %v; want unavailable", p, err)
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") || !strings.Contains(out, "request timed out") {
		t.Fatalf("log = %s; want a warning and no ERROR", out)
	}
}
