package server

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/pkg/api"
)

func TestBadCredentialsAre401(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	good := a.key
	last := byte('A')
	if good[len(good)-1] == last {
		last = 'B'
	}
	badSum := good[:len(good)-1] + string(last)
	unknown, _ := auth.NewKey(auth.WorkspacePrefix)

	var exp api.Key
	b.call("POST", "/v1/keys", a.key, api.CreateKeyRequest{Name: "short", Scopes: []string{api.ScopeKeysRead}, ExpiresIn: "1h"}, 201, &exp)
	revoked := b.newKey(a.key, api.ScopeKeysRead)
	b.call("DELETE", "/v1/keys/"+revoked.ID, a.key, nil, 200, nil)

	var tok api.TokenResponse
	b.call("POST", "/v1/auth/token", a.key, nil, 200, &tok)
	parts := strings.Split(tok.Token, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	wrongKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "key_x", "iss": auth.Issuer, "aud": auth.Audience,
		"exp": b.clock().Add(time.Minute).Unix(), "iat": b.clock().Unix()}).SignedString([]byte("not the server secret"))

	cases := map[string]struct{ header, cred string }{
		"missing":       {"", ""},
		"basic scheme":  {"Basic " + base64.StdEncoding.EncodeToString([]byte("u:p")), ""},
		"bad checksum":  {"", badSum},
		"unknown key":   {"", unknown},
		"revoked key":   {"", revoked.Secret},
		"jwt alg none":  {"", none},
		"jwt wrong key": {"", wrongKey},
		"garbage":       {"", "hello"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var r resp
			if c.header != "" {
				r = b.req("GET", "/v1/me", "", "", "Authorization", c.header)
			} else {
				r = b.req("GET", "/v1/me", c.cred, "")
			}
			wantProblem(t, r, 401, api.CodeUnauthenticated)
		})
	}

	// Expired key and expired session: move the clock past both.
	b.advance(61 * time.Minute)
	wantProblem(t, b.req("GET", "/v1/keys", exp.Secret, ""), 401, api.CodeUnauthenticated)
	wantProblem(t, b.req("GET", "/v1/me", tok.Token, ""), 401, api.CodeUnauthenticated)
}

func TestSessionTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	k := b.newKey(a.key, api.ScopeKeysRead, api.ScopeKeysWrite)
	var tok api.TokenResponse
	b.call("POST", "/v1/auth/token", k.Secret, nil, 200, &tok)
	if !tok.ExpiresAt.Equal(b.clock().Add(15 * time.Minute)) {
		t.Fatalf("expires_at = %v", tok.ExpiresAt)
	}
	var me api.Me
	b.call("GET", "/v1/me", tok.Token, nil, 200, &me)
	if me.Key.ID != k.ID || !me.Key.Session || me.Workspace.ID != a.ws.ID || me.Tier.Name != "pro" {
		t.Fatalf("me = %+v", me)
	}
	// A session cannot mint sessions, and carries only its key's scopes.
	wantProblem(t, b.req("POST", "/v1/auth/token", tok.Token, ""), 403, api.CodeForbidden)
	wantProblem(t, b.req("GET", "/v1/workspaces", tok.Token, ""), 403, api.CodeForbidden)
	// Revoking the key ends its sessions at once.
	b.call("DELETE", "/v1/keys/"+k.ID, a.key, nil, 200, nil)
	wantProblem(t, b.req("GET", "/v1/me", tok.Token, ""), 401, api.CodeUnauthenticated)
}

func TestScopesAndOperatorRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	ro := b.newKey(a.key, api.ScopeKeysRead)
	wantProblem(t, b.call("POST", "/v1/keys", ro.Secret, api.CreateKeyRequest{Scopes: []string{api.ScopeKeysRead}}, 403, nil), 403, api.CodeForbidden)
	b.call("GET", "/v1/keys", ro.Secret, nil, 200, nil)
	for _, path := range []string{"/v1/workspaces"} {
		wantProblem(t, b.req("GET", path, a.key, ""), 403, api.CodeForbidden)
		wantProblem(t, b.req("POST", path, a.key, `{"name":"x"}`), 403, api.CodeForbidden)
	}
	wantProblem(t, b.req("PATCH", "/v1/workspaces/"+a.ws.ID, a.key, `{"tier":"team"}`), 403, api.CodeForbidden)
	wantProblem(t, b.req("DELETE", "/v1/workspaces/"+a.ws.ID, a.key, ""), 403, api.CodeForbidden)
	// Task routes need their scopes: read-only keys cannot submit or
	// cancel, and only worker keys claim and report.
	tr := b.newKey(a.key, api.ScopeTasksRead)
	wantProblem(t, b.req("POST", "/v1/tasks", tr.Secret, `{}`), 403, api.CodeForbidden)
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.call("GET", "/v1/tasks/"+task.ID, tr.Secret, nil, 200, nil)
	wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/cancel", tr.Secret, ""), 403, api.CodeForbidden)
	for _, path := range []string{"/v1/tasks/claim", "/v1/tasks/" + task.ID + "/heartbeat", "/v1/tasks/" + task.ID + "/logs",
		"/v1/tasks/" + task.ID + "/complete", "/v1/tasks/" + task.ID + "/fail"} {
		wantProblem(t, b.req("POST", path, tr.Secret, `{}`), 403, api.CodeForbidden)
	}
	wk := b.newKey(a.key, api.ScopeWorker)
	wantProblem(t, b.req("GET", "/v1/tasks", wk.Secret, ""), 403, api.CodeForbidden)
	if got := b.claim(wk.Secret); len(got) != 1 || got[0].ID != task.ID {
		t.Fatalf("worker key claim = %+v", got)
	}

	// A key cannot grant what it lacks.
	kw := b.newKey(a.key, api.ScopeKeysWrite)
	r := b.call("POST", "/v1/keys", kw.Secret, api.CreateKeyRequest{Scopes: []string{api.ScopeTasksWrite}}, 422, nil)
	if p := wantProblem(t, r, 422, api.CodeValidationFailed); len(p.Errors) != 1 || p.Errors[0].Field != "scopes[0]" {
		t.Fatalf("errors = %+v", p.Errors)
	}
	// Workspace keys cannot use Baton-Workspace to hop tenants.
	bb := b.newTenant("beta")
	wantProblem(t, b.req("GET", "/v1/keys", a.key, "", api.HeaderWorkspace, bb.ws.ID), 403, api.CodeForbidden)
	// Operator keys must name a workspace for workspace routes; an unknown one is 404.
	wantProblem(t, b.req("GET", "/v1/keys", b.admin, "", api.HeaderWorkspace, "ws_nope"), 404, api.CodeNotFound)
	var keys api.List[api.Key]
	b.call("GET", "/v1/keys", b.admin, nil, 200, &keys, api.HeaderWorkspace, bb.ws.ID)
	if len(keys.Data) != 1 || keys.Data[0].WorkspaceID != bb.ws.ID {
		t.Fatalf("operator view of beta's keys = %+v", keys.Data)
	}
}

func TestSuspendedWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"status": "suspended"}, 200, nil)
	wantProblem(t, b.req("GET", "/v1/keys", a.key, ""), 403, api.CodeWorkspaceSuspended)
	var me api.Me
	b.call("GET", "/v1/me", a.key, nil, 200, &me)
	if me.Workspace.Status != api.WorkspaceSuspended {
		t.Fatalf("me.workspace.status = %s", me.Workspace.Status)
	}
	b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"status": "active"}, 200, nil)
	b.call("GET", "/v1/keys", a.key, nil, 200, nil)
}

// TestSuspendedWorkspaceStopsSharedWorkers: a shared worker's operator key
// is not refused by suspension, so its heartbeat is answered cancel with
// reason workspace_suspended, and the agent stops instead of running on
// (before, it ran to the end and its work was refused and rerun).
func TestSuspendedWorkspaceStopsSharedWorkers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	if got := b.claim(b.admin); len(got) != 1 || got[0].ID != task.ID {
		t.Fatalf("shared worker claimed %+v", got)
	}
	hb := b.heartbeat(b.admin, task.ID, 1, 200, api.HeaderWorkspace, a.ws.ID)
	if hb.Cancel {
		t.Fatalf("heartbeat of an active workspace: %+v", hb)
	}
	b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"status": "suspended"}, 200, nil)
	hb = b.heartbeat(b.admin, task.ID, 1, 200, api.HeaderWorkspace, a.ws.ID)
	if !hb.Cancel || hb.Reason != "workspace_suspended" {
		t.Errorf("heartbeat of a suspended workspace = %+v, want cancel with reason workspace_suspended", hb)
	}
	// A stale attempt is still a 409.
	wantProblem(t, b.call("POST", "/v1/tasks/"+task.ID+"/heartbeat", b.admin, api.HeartbeatRequest{Attempt: 2}, 409, nil,
		api.HeaderWorkspace, a.ws.ID), 409, api.CodeConflict)
}

// TestWorkerAllScope: an operator key with the single scope worker:all is
// a shared worker's key: it claims across workspaces and runs their tasks
// (naming each with Baton-Workspace), and nothing else — no admin route,
// no workspace route, no key. Before it, a shared worker needed admin.
func TestWorkerAllScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, z := b.newTenant("acme"), b.newTenant("zulu")
	var wk api.Key
	b.call("POST", "/v1/keys", b.admin, api.CreateKeyRequest{Name: "shared-worker", Scopes: []string{api.ScopeWorkerAll}}, 201, &wk)
	if !strings.HasPrefix(wk.Secret, "bak_") || len(wk.Scopes) != 1 || wk.Scopes[0] != api.ScopeWorkerAll {
		t.Fatalf("worker:all key = %+v", wk)
	}
	for _, bad := range [][]string{{api.ScopeAdmin, api.ScopeWorkerAll}, {api.ScopeWorker}, {api.ScopeAll}} {
		wantProblem(t, b.call("POST", "/v1/keys", b.admin, api.CreateKeyRequest{Name: "x", Scopes: bad}, 422, nil), 422, api.CodeValidationFailed)
	}
	ta := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	tz := b.submit(z.key, api.SubmitTaskRequest{}, "", 201)
	var claimed api.ClaimResponse
	b.call("POST", "/v1/tasks/claim", wk.Secret, api.ClaimRequest{WorkerID: "shared", MaxTasks: 10}, 200, &claimed)
	if len(claimed.Tasks) != 2 {
		t.Fatalf("worker:all claimed %d tasks, want both workspaces' 2", len(claimed.Tasks))
	}
	b.heartbeat(wk.Secret, ta.ID, 1, 200, api.HeaderWorkspace, a.ws.ID)
	b.call("POST", "/v1/tasks/"+ta.ID+"/logs", wk.Secret, api.LogsRequest{Attempt: 1, Lines: []string{"hi"}}, 204, nil, api.HeaderWorkspace, a.ws.ID)
	b.call("POST", "/v1/tasks/"+ta.ID+"/complete", wk.Secret, api.CompleteRequest{Attempt: 1, Output: []byte(`{}`)}, 200, nil, api.HeaderWorkspace, a.ws.ID)
	b.call("POST", "/v1/tasks/"+tz.ID+"/fail", wk.Secret, api.FailRequest{Attempt: 1, Error: "boom"}, 200, nil, api.HeaderWorkspace, z.ws.ID)
	// Nothing but the worker routes.
	for _, c := range []struct{ method, path, ws string }{
		{"GET", "/v1/workspaces", ""}, {"GET", "/v1/workspaces/" + a.ws.ID, a.ws.ID}, {"POST", "/v1/keys", ""},
		{"GET", "/v1/keys", a.ws.ID}, {"GET", "/v1/tasks", a.ws.ID}, {"GET", "/v1/tasks/" + ta.ID, a.ws.ID},
		{"POST", "/v1/tasks", a.ws.ID}, {"GET", "/v1/usage/quota", a.ws.ID}, {"GET", "/v1/admin/costs", ""},
	} {
		var hdr []string
		if c.ws != "" {
			hdr = []string{api.HeaderWorkspace, c.ws}
		}
		body := ""
		if c.method == "POST" {
			body = "{}"
		}
		want := 403
		if c.path == "/v1/workspaces/"+a.ws.ID {
			want = 404 // not its own workspace: another workspace's id is 404
		}
		if r := b.req(c.method, c.path, wk.Secret, body, hdr...); r.Status != want {
			t.Errorf("%s %s with a worker:all key: %d, want %d", c.method, c.path, r.Status, want)
		}
	}
}
