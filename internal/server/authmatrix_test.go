package server

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// scene is a workspace with one object of every kind a route addresses,
// each in the state in which its routes succeed.
type scene struct {
	tenant           // the workspace and its "*" key
	key     api.Key  // a keys:read key: the target of /v1/keys/{id}
	running api.Task // attempt 1 runs (claimed), its step "s1" is begun
	ended   api.Task // succeeded: it can be retried
	alert   string   // an open alert
}

func (b *bundle) newScene(name string) *scene {
	b.t.Helper()
	sc := &scene{tenant: b.newTenant(name)}
	sc.key = b.newKey(sc.tenant.key, api.ScopeKeysRead)
	sc.ended = b.submit(sc.tenant.key, api.SubmitTaskRequest{Queue: "ended"}, "", 201)
	b.claim(sc.tenant.key, "ended")
	b.call("POST", "/v1/tasks/"+sc.ended.ID+"/complete", sc.tenant.key, api.CompleteRequest{Attempt: 1}, 200, nil)
	sc.running = b.submit(sc.tenant.key, api.SubmitTaskRequest{Queue: "running"}, "", 201)
	b.claim(sc.tenant.key, "running")
	b.beginStep(sc.tenant.key, sc.running.ID, "s1", api.StepBeginRequest{Attempt: 1, Kind: api.StepRun})
	a := store.Alert{ID: ids.New(ids.Alert), WorkspaceID: sc.ws.ID, Kind: api.AlertThreshold, Metric: api.QuotaSpend,
		Threshold: 80, Period: "2026-11", Value: 1, Limit: 1, Message: "m", CreatedAt: b.clock()}
	if _, err := b.store.RaiseAlert(context.Background(), a); err != nil {
		b.t.Fatal(err)
	}
	sc.alert = a.ID
	return sc
}

// request is the path and body with which a route succeeds on sc's
// objects; ok is false for a route that has none here (a new route must
// add its line, or the tests that walk the route table fail).
func (sc *scene) request(method, pattern string) (path, body string, ok bool) {
	task, ws := "/v1/tasks/"+sc.running.ID, sc.ws.ID
	switch method + " " + pattern {
	case "GET /healthz", "GET /readyz", "GET /docs/errors", "GET /metrics", "GET /openapi.json",
		"GET /v1/me", "GET /v1/tiers", "GET /v1/workspaces", "GET /v1/keys", "GET /v1/tasks", "GET /v1/workers", "GET /v1/queues",
		"GET /v1/usage", "GET /v1/usage/quota", "GET /v1/usage/stream", "GET /v1/alerts", "GET /v1/admin/costs", "GET /v1/admin/usage":
		return pattern, "", true
	case "POST /v1/auth/token":
		return pattern, "", true
	case "POST /v1/workspaces":
		return pattern, `{"name":"` + sc.ws.Name + `-2"}`, true
	case "GET /v1/workspaces/{id}", "DELETE /v1/workspaces/{id}":
		return "/v1/workspaces/" + ws, "", true
	case "PATCH /v1/workspaces/{id}":
		return "/v1/workspaces/" + ws, `{"tier":"team"}`, true
	case "POST /v1/keys":
		return pattern, `{"name":"k","scopes":["keys:read"]}`, true
	case "GET /v1/keys/{id}", "DELETE /v1/keys/{id}":
		return "/v1/keys/" + sc.key.ID, "", true
	case "POST /v1/keys/{id}/rotate":
		return "/v1/keys/" + sc.key.ID + "/rotate", `{}`, true
	case "POST /v1/tasks":
		return pattern, `{"queue":"new"}`, true
	case "GET /v1/tasks/{id}", "GET /v1/tasks/{id}/steps", "GET /v1/tasks/{id}/events", "POST /v1/tasks/{id}/cancel":
		return strings.Replace(pattern, "/v1/tasks/{id}", task, 1), "", true
	case "PATCH /v1/tasks/{id}":
		return task, `{"priority":5}`, true
	case "POST /v1/tasks/{id}/retry":
		return "/v1/tasks/" + sc.ended.ID + "/retry", `{}`, true
	case "POST /v1/tasks/{id}/signals/{name}":
		return task + "/signals/go", `{"data":1}`, true
	case "POST /v1/tasks/{id}/steps/{key}/begin":
		return task + "/steps/s2/begin", `{"attempt":1,"kind":"run"}`, true
	case "POST /v1/tasks/{id}/steps/{key}/end":
		return task + "/steps/s1/end", `{"attempt":1,"output":1}`, true
	case "POST /v1/tasks/claim":
		return pattern, `{"queues":["idle"],"worker_id":"m"}`, true
	case "POST /v1/tasks/{id}/heartbeat":
		return task + "/heartbeat", `{"attempt":1}`, true
	case "POST /v1/tasks/{id}/complete":
		return task + "/complete", `{"attempt":1,"output":null}`, true
	case "POST /v1/tasks/{id}/logs":
		return task + "/logs", `{"attempt":1,"lines":["x"]}`, true
	case "POST /v1/tasks/{id}/fail":
		return task + "/fail", `{"attempt":1,"error":"x","retryable":false}`, true
	case "POST /v1/alerts/{id}/ack":
		return "/v1/alerts/" + sc.alert + "/ack", "", true
	}
	return "", "", false
}

// The credentials of the matrix, in the order they are tried.
const (
	credNone      = "no credential"
	credMalformed = "malformed key"
	credChecksum  = "bad checksum"
	credExpired   = "expired key"
	credRevoked   = "revoked key"
	credLacking   = "key lacking the route's scope"
	credOther     = "another workspace's key"
	credSession   = "session token of the workspace's key"
	credWorkerAll = "worker:all operator key"
	credOperator  = "operator key"
	credSuspended = "key of a suspended workspace"
)

var matrixCreds = []string{credNone, credMalformed, credChecksum, credExpired, credRevoked, credLacking, credOther, credSession,
	credWorkerAll, credOperator, credSuspended}

// matrixWant is what CONTRACT.md and docs/api.md say rt answers to cred:
// 401 for every credential that is not one; 403 for a key lacking the
// scope (a workspace key or its session on an operator route included, a
// session minting a session, a worker:all key off the worker routes); 404
// for another workspace's object (its id is "no such object in the
// caller's workspace"); 403 workspace_suspended for a suspended
// workspace's key on every route but GET /v1/me; the route's own status
// otherwise. Public routes take no credential and look at none.
func matrixWant(rt route, cred string) (int, api.Code) {
	switch {
	case rt.scope == public:
		return rt.status, ""
	case cred == credSuspended && rt.path != "/v1/me":
		return 403, api.CodeWorkspaceSuspended
	case slices.Contains([]string{credNone, credMalformed, credChecksum, credExpired, credRevoked}, cred):
		return 401, api.CodeUnauthenticated
	case cred == credLacking && rt.scope != anyAuth, cred == credOther && rt.scope == api.ScopeAdmin:
		return 403, api.CodeForbidden
	case cred == credOther && strings.Contains(rt.path, "{"):
		return 404, api.CodeNotFound
	case cred == credSession && (rt.path == "/v1/auth/token" || rt.scope == api.ScopeAdmin):
		return 403, api.CodeForbidden // a session cannot mint a session, and is its key
	case cred == credWorkerAll && rt.scope != api.ScopeWorker && rt.scope != anyAuth:
		return 403, api.CodeForbidden // the worker routes and nothing else
	case cred == credWorkerAll && rt.path == "/v1/workspaces/{id}":
		return 404, api.CodeNotFound // an operator key but admin sees no workspace
	}
	return rt.status, ""
}

// credentials makes each credential of the matrix for route rt on sc;
// other is another workspace's "*" key, workerAll an operator key of scope
// worker:all. It returns the Authorization
// value ("" for none) and the extra headers.
func (b *bundle) credentials(sc *scene, rt route, other, workerAll string) map[string][]string {
	b.t.Helper()
	good := sc.tenant.key
	last := byte('A')
	if good[len(good)-1] == last {
		last = 'B'
	}
	expired, _ := auth.NewKey(auth.WorkspacePrefix)
	k := store.Key{ID: ids.New(ids.Key), WorkspaceID: sc.ws.ID, Name: "expired", Prefix: auth.PublicPrefix(expired),
		Hash: auth.NewHasher(b.secret).Hash(expired), Scopes: []string{api.ScopeAll}, CreatedAt: b.clock().Add(-2 * 3600e9)}
	exp := b.clock().Add(-1e9)
	k.ExpiresAt = &exp
	if err := b.store.CreateKey(context.Background(), k); err != nil {
		b.t.Fatal(err)
	}
	revoked := b.newKey(good, api.ScopeAll)
	b.call("DELETE", "/v1/keys/"+revoked.ID, good, nil, 200, nil)
	var session api.TokenResponse
	b.call("POST", "/v1/auth/token", good, nil, 200, &session)
	// Every workspace scope but the route's own ("*" holds them all).
	var lacking []string
	for _, s := range api.WorkspaceScopes {
		if s != rt.scope && s != api.ScopeAll {
			lacking = append(lacking, s)
		}
	}
	return map[string][]string{
		credNone:      {""},
		credMalformed: {"bk_not-a-key"},
		credChecksum:  {good[:len(good)-1] + string(last)},
		credExpired:   {expired},
		credRevoked:   {revoked.Secret},
		credLacking:   {b.newKey(good, lacking...).Secret},
		credOther:     {other},
		credSession:   {session.Token},
		credWorkerAll: {workerAll, api.HeaderWorkspace, sc.ws.ID},
		credOperator:  {b.admin, api.HeaderWorkspace, sc.ws.ID},
		credSuspended: {good},
	}
}

// send is b.req that does not wait for the end of an event stream.
func (b *bundle) send(method, path, cred, body string, headers ...string) resp {
	b.t.Helper()
	return b.do(method, path, cred, body, false, headers...)
}

// TestAuthMatrix walks the route table: every route with no credential, a
// malformed key, a bad checksum, an expired key, a revoked key, a key
// holding every scope but the route's, another workspace's "*" key
// addressing this workspace's objects, a session token, a worker:all
// operator key, an admin operator key naming the workspace and the key of
// a suspended workspace; each answer is the status and problem type
// CONTRACT.md gives (matrixWant), on SQLite and PostgreSQL. Each route runs on a scene of its own, and on a
// fresh one after an answer that succeeded. A route added without its
// checks fails here by itself (one without a scene request too).
func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	onEveryStore(t, func(t *testing.T, b *bundle) {
		// The matrix sends a few hundred failing credentials and mints a
		// session per route from one address: the limits per address are
		// not under test.
		b.srv.rl.AuthFailures = ratelimit.PerMinute(1_000_000, 1_000_000)
		b.srv.rl.Token = b.srv.rl.AuthFailures
		other := b.newTenant("other-ws").key
		var workerAll api.Key
		b.call("POST", "/v1/keys", b.admin, api.CreateKeyRequest{Name: "shared-worker", Scopes: []string{api.ScopeWorkerAll}}, 201, &workerAll)
		scenes := 0
		for _, rt := range b.srv.routes {
			var (
				sc         *scene
				path, body string
				creds      map[string][]string
			)
			for _, name := range matrixCreds {
				if sc == nil { // a credential that succeeded may have changed the scene
					scenes++
					sc = b.newScene(fmt.Sprintf("matrix-%d", scenes))
					var ok bool
					if path, body, ok = sc.request(rt.method, rt.path); !ok {
						t.Fatalf("%s %s: no scene request (add it to scene.request)", rt.method, rt.path)
					}
					creds = b.credentials(sc, rt, other, workerAll.Secret)
				}
				if name == credSuspended { // last: the scene is of no other use
					b.call("PATCH", "/v1/workspaces/"+sc.ws.ID, b.admin, api.UpdateWorkspaceRequest{Status: new(api.WorkspaceSuspended)}, 200, nil)
				}
				c := creds[name]
				r := b.send(rt.method, path, c[0], body, c[1:]...)
				if r.Status < 300 {
					sc = nil
				}
				status, code := matrixWant(rt, name)
				if code == "" {
					if r.Status != status {
						t.Errorf("%s %s, %s: status %d, want %d: %s", rt.method, rt.path, name, r.Status, status, r.Body)
					}
					continue
				}
				p := r.problem(t)
				if r.Status != status || p.Code != code || p.Status != status || p.Type != "/docs/errors#"+string(code) {
					t.Errorf("%s %s, %s: %d %s (%s), want %d %s: %s", rt.method, rt.path, name, r.Status, p.Code, p.Type, status, code, p.Detail)
				}
			}
		}
	})
}

// routeRef is one route named in a document, with the scope it gives.
type routeRef struct{ method, path, scope string }

// docScopes maps a document's scope cell to the route table's scope.
// GET /v1/workspaces/{id} is written as an exception of admin ("GET own:
// any", "a workspace key: its own only"): the route takes any credential
// and shows a workspace key its own workspace only.
func docScope(cell, method, path string) (string, bool) {
	cell = strings.Trim(strings.TrimSpace(cell), "`")
	switch {
	case cell == "none":
		return public, true
	case cell == "any" || cell == "any key" || cell == "any key (not a session)":
		return anyAuth, true
	case cell == "admin (GET own: any)" || cell == "admin; a workspace key: its own only":
		if method == "GET" && path == "/v1/workspaces/{id}" {
			return anyAuth, true
		}
		return api.ScopeAdmin, true
	case cell == "admin":
		return api.ScopeAdmin, true
	case slices.Contains(api.WorkspaceScopes, cell) || cell == api.ScopeWorker:
		return cell, true
	}
	return "", false
}

var routeCell = regexp.MustCompile("^`([A-Z/]+ )?(/[^`]*)`$")

// docRoutes reads the route tables of a markdown document (the tables
// headed "method & path | scope"): rows whose first cell names routes ("`GET /a` · `GET/PATCH /a/{id}` · `/b`", a
// bare path replacing the previous one's last segment) and whose second
// cell is the scope.
func docRoutes(t *testing.T, file string) []routeRef {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []routeRef
	inTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "| method & path | scope |") {
			inTable = true
		} else if !strings.HasPrefix(line, "|") {
			inTable = false
		}
		cells := strings.Split(line, "|")
		if !inTable || len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		var methods []string
		var last string
		for _, item := range strings.Split(strings.TrimSpace(cells[1]), " · ") {
			m := routeCell.FindStringSubmatch(strings.TrimSpace(item))
			if m == nil {
				break // not a route row (an error code's row, say)
			}
			path := m[2]
			if m[1] != "" {
				methods = strings.Split(strings.TrimSpace(m[1]), "/")
			} else if last != "" {
				path = last[:strings.LastIndex(last, "/")] + path
			}
			last = path
			for _, method := range methods {
				scope, ok := docScope(cells[2], method, path)
				if !ok {
					t.Fatalf("%s: %s %s: unknown scope %q", file, method, path, cells[2])
				}
				out = append(out, routeRef{method, path, scope})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRouteScopesMatchTheDocuments: the route table's scopes are the ones
// CONTRACT.md gives (testdata/contract-routes.md is a copy of its route
// tables: the contract lives outside the repository) and the ones
// docs/api.md gives, route for route, and neither document names a route
// the server does not have.
func TestRouteScopesMatchTheDocuments(t *testing.T) {
	t.Parallel()
	table := map[string]string{}
	for _, rt := range (&Server{}).routeTable() {
		table[rt.method+" "+rt.path] = rt.scope
	}
	// Routes of the server that the contract does not list: the error
	// documentation that problem types point at.
	notInContract := map[string]bool{"GET /docs/errors": true}
	for _, doc := range []struct {
		file   string
		except map[string]bool
	}{{"testdata/contract-routes.md", notInContract}, {"../../docs/api.md", nil}} {
		named := map[string]bool{}
		for _, ref := range docRoutes(t, doc.file) {
			id := ref.method + " " + ref.path
			named[id] = true
			scope, ok := table[id]
			switch {
			case !ok:
				t.Errorf("%s names %s, which the server does not serve", doc.file, id)
			case scope != ref.scope:
				t.Errorf("%s: %s needs %q in the route table, %q in the document", doc.file, id, scope, ref.scope)
			}
		}
		for id := range table {
			if !named[id] && !doc.except[id] {
				t.Errorf("%s does not name %s", doc.file, id)
			}
		}
	}
}
