package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// TestCrossTenantAccess proves, for every route, that workspace A's key
// cannot see or touch workspace B's objects: ids are 404, lists exclude them.
func TestCrossTenantAccess(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, z := b.newTenant("alpha"), b.newTenant("zulu")
	zKey := b.newKey(z.key, api.ScopeKeysRead)

	covered := map[string]bool{}
	check := func(method, path string, body string, cred string, status int, code api.Code) {
		t.Helper()
		pattern := method + " " + routePattern(b.srv, method, path)
		covered[pattern] = true
		r := b.req(method, path, cred, body)
		if code == "" {
			if r.Status != status {
				t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, status, r.Body)
			}
			return
		}
		wantProblem(t, r, status, code)
	}

	// Routes on B's objects by id: 404 for A.
	check("GET", "/v1/workspaces/"+z.ws.ID, "", a.key, 404, api.CodeNotFound)
	check("PATCH", "/v1/workspaces/"+z.ws.ID, `{"tier":"team"}`, a.key, 403, api.CodeForbidden)
	check("DELETE", "/v1/workspaces/"+z.ws.ID, "", a.key, 403, api.CodeForbidden)
	check("GET", "/v1/keys/"+zKey.ID, "", a.key, 404, api.CodeNotFound)
	check("DELETE", "/v1/keys/"+zKey.ID, "", a.key, 404, api.CodeNotFound)
	check("POST", "/v1/keys/"+zKey.ID+"/rotate", `{}`, a.key, 404, api.CodeNotFound)
	// B's task: A cannot read, cancel, follow, or work on it; A's worker
	// never claims it.
	zTask := b.submit(z.key, api.SubmitTaskRequest{Queue: "zq"}, "", 201)
	check("GET", "/v1/tasks/"+zTask.ID, "", a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/"+zTask.ID+"/cancel", "", a.key, 404, api.CodeNotFound)
	check("GET", "/v1/tasks/"+zTask.ID+"/events", "", a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/claim", `{"queues":["zq"],"worker_id":"a"}`, a.key, 200, "")
	if got := b.getTask(z.key, zTask.ID); got.Status != api.TaskQueued {
		t.Fatalf("A's worker claimed B's task: %+v", got)
	}
	b.claim(z.key, "zq")
	check("POST", "/v1/tasks/"+zTask.ID+"/heartbeat", `{"attempt":1}`, a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/"+zTask.ID+"/logs", `{"attempt":1,"lines":["x"]}`, a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/"+zTask.ID+"/complete", `{"attempt":1}`, a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/"+zTask.ID+"/fail", `{"attempt":1,"error":"x"}`, a.key, 404, api.CodeNotFound)
	if got := b.getTask(z.key, zTask.ID); got.Status != api.TaskRunning || got.Attempt != 1 {
		t.Fatalf("B's task was changed by A: %+v", got)
	}
	// Durable steps: A cannot begin, end, list, signal, update or retry B's.
	check("POST", "/v1/tasks/"+zTask.ID+"/steps/fetch/begin", `{"attempt":1,"kind":"run"}`, a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/"+zTask.ID+"/steps/fetch/end", `{"attempt":1}`, a.key, 404, api.CodeNotFound)
	check("GET", "/v1/tasks/"+zTask.ID+"/steps", "", a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/"+zTask.ID+"/signals/go", `{"data":1}`, a.key, 404, api.CodeNotFound)
	check("PATCH", "/v1/tasks/"+zTask.ID, `{"priority":5}`, a.key, 404, api.CodeNotFound)
	check("POST", "/v1/tasks/"+zTask.ID+"/retry", `{}`, a.key, 404, api.CodeNotFound)
	var zSteps api.StepList
	b.call("GET", "/v1/tasks/"+zTask.ID+"/steps", z.key, nil, 200, &zSteps)
	if len(zSteps.Data) != 0 {
		t.Fatalf("B's journal was written by A: %+v", zSteps.Data)
	}

	var aTasks api.List[api.Task]
	b.call("GET", "/v1/tasks?limit=100", a.key, nil, 200, &aTasks)
	covered["GET /v1/tasks"] = true
	if len(aTasks.Data) != 0 {
		t.Fatalf("A's task list holds B's tasks: %+v", aTasks.Data)
	}
	check("POST", "/v1/tasks", `{}`, a.key, 201, "")
	// Workers and queues: A sees its own worker and queue, never B's.
	var workers api.List[api.Worker]
	b.call("GET", "/v1/workers", a.key, nil, 200, &workers)
	covered["GET /v1/workers"] = true
	if len(workers.Data) != 1 || workers.Data[0].ID != "a" || workers.Data[0].WorkspaceID != a.ws.ID {
		t.Fatalf("A's workers = %+v, want only its worker a", workers.Data)
	}
	var queues api.List[api.Queue]
	b.call("GET", "/v1/queues", a.key, nil, 200, &queues)
	covered["GET /v1/queues"] = true
	if len(queues.Data) != 1 || queues.Data[0].Name != api.DefaultQueue || queues.Data[0].Queued != 1 || queues.Data[0].Pollers != 0 {
		t.Fatalf("A's queues = %+v, want only default with its one task", queues.Data)
	}

	// B's key is untouched.
	var got api.Key
	b.call("GET", "/v1/keys/"+zKey.ID, z.key, nil, 200, &got)
	if got.RevokedAt != nil || got.PreviousExpiresAt != nil {
		t.Fatalf("B's key was changed by A: %+v", got)
	}

	// Lists: A sees only its own.
	var keys api.List[api.Key]
	b.call("GET", "/v1/keys?limit=100", a.key, nil, 200, &keys)
	covered["GET /v1/keys"] = true
	for _, k := range keys.Data {
		if k.WorkspaceID != a.ws.ID {
			t.Fatalf("A's key list holds %s of %s", k.ID, k.WorkspaceID)
		}
	}
	check("GET", "/v1/workspaces", "", a.key, 403, api.CodeForbidden)
	check("POST", "/v1/workspaces", `{"name":"x"}`, a.key, 403, api.CodeForbidden)

	// A's cursor is refused in B's workspace.
	b.newKey(a.key, api.ScopeKeysRead)
	var p1 api.List[api.Key]
	b.call("GET", "/v1/keys?limit=1", a.key, nil, 200, &p1)
	if p1.NextCursor == nil {
		t.Fatal("want a next cursor")
	}
	wantProblem(t, b.req("GET", "/v1/keys?cursor="+*p1.NextCursor, z.key, ""), 400, api.CodeInvalidRequest)

	// Routes with no tenant object: A's own view only.
	var me api.Me
	b.call("GET", "/v1/me", a.key, nil, 200, &me)
	if me.Workspace.ID != a.ws.ID {
		t.Fatalf("me = %+v", me)
	}
	covered["GET /v1/me"] = true
	check("POST", "/v1/keys", `{"scopes":["keys:read"]}`, a.key, 201, "")
	check("POST", "/v1/auth/token", "", a.key, 200, "")
	check("GET", "/v1/tiers", "", a.key, 200, "")
	// Usage: A's own only (B's usage is metered too, and never shown).
	var q api.Quota
	b.call("GET", "/v1/usage/quota", a.key, nil, 200, &q)
	covered["GET /v1/usage/quota"] = true
	var us api.UsageSeries
	b.call("GET", "/v1/usage", a.key, nil, 200, &us)
	covered["GET /v1/usage"] = true
	if q.WorkspaceID != a.ws.ID || us.WorkspaceID != a.ws.ID || q.Queued != 1 || q.Running != 0 {
		t.Fatalf("A's usage shows another workspace: quota %+v, report of %s", q, us.WorkspaceID)
	}
	// The stream's first snapshot is A's (TestUsageStream follows it).
	covered["GET /v1/usage/stream"] = true
	if first := firstSnapshot(t, b, a.key); first.WorkspaceID != a.ws.ID {
		t.Fatalf("A's stream sent %s", first.WorkspaceID)
	}
	// B's alert: A cannot list or acknowledge it.
	zAlert := store.Alert{ID: ids.New(ids.Alert), WorkspaceID: z.ws.ID, Kind: api.AlertThreshold, Metric: api.QuotaSpend,
		Threshold: 80, Period: "2026-11", Value: 1, Limit: 1, Message: "z", CreatedAt: b.clock()}
	if _, err := b.store.RaiseAlert(context.Background(), zAlert); err != nil {
		t.Fatal(err)
	}
	check("POST", "/v1/alerts/"+zAlert.ID+"/ack", "", a.key, 404, api.CodeNotFound)
	var aAlerts api.List[api.Alert]
	b.call("GET", "/v1/alerts?state=all", a.key, nil, 200, &aAlerts)
	covered["GET /v1/alerts"] = true
	if len(aAlerts.Data) != 0 {
		t.Fatalf("A's alerts hold B's: %+v", aAlerts.Data)
	}
	check("GET", "/v1/admin/costs", "", a.key, 403, api.CodeForbidden)
	check("GET", "/v1/admin/usage", "", a.key, 403, api.CodeForbidden)
	// /metrics is public like the probes; it holds cross-tenant counts
	// and queue names, and no tenant's objects (docs/self-hosting.md:
	// expose it to the scraper only).
	for _, p := range []string{"/healthz", "/readyz", "/openapi.json", "/docs/errors", "/metrics"} {
		check("GET", p, "", "", 200, "")
	}

	for _, rt := range b.srv.routes {
		if !covered[rt.method+" "+rt.path] {
			t.Errorf("route %s %s has no cross-tenant check", rt.method, rt.path)
		}
	}
}

// routePattern returns the mux pattern path that serves method path.
func routePattern(s *Server, method, path string) string {
	r, _ := http.NewRequest(method, path, nil)
	_, pattern := s.mux.Handler(r)
	_, p, _ := strings.Cut(pattern, " ")
	return p
}

// TestBadInput sends malformed JSON, unknown fields, wrong types, oversized
// and empty bodies to every route that takes a body: each gets its code,
// and nothing is written.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	k := b.newKey(a.key, api.ScopeKeysRead)
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)

	type target struct {
		method, path, cred string
		extra              []string
	}
	targets := []target{
		{"POST", "/v1/workspaces", b.admin, nil},
		{"PATCH", "/v1/workspaces/" + a.ws.ID, b.admin, nil},
		{"POST", "/v1/keys", a.key, nil},
		{"POST", "/v1/keys/" + k.ID + "/rotate", a.key, nil},
		{"POST", "/v1/auth/token", a.key, nil},
		{"POST", "/v1/tasks", a.key, nil},
		{"POST", "/v1/tasks/claim", a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/heartbeat", a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/logs", a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/complete", a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/fail", a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/steps/fetch/begin", a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/steps/fetch/end", a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/signals/go", a.key, nil},
		{"PATCH", "/v1/tasks/" + task.ID, a.key, nil},
		{"POST", "/v1/tasks/" + task.ID + "/retry", a.key, nil},
	}
	bad := []struct {
		name   string
		body   string
		status int
		code   api.Code
	}{
		{"malformed", `{"name": `, 400, api.CodeInvalidRequest},
		{"not an object", `[1,2]`, 400, api.CodeInvalidRequest},
		{"unknown field", `{"nmae": "x"}`, 400, api.CodeInvalidRequest},
		{"two documents", `{} {}`, 400, api.CodeInvalidRequest},
		{"oversized", bigBody, 413, api.CodePayloadTooLarge},
	}
	for _, tg := range targets {
		for _, c := range bad {
			t.Run(tg.method+" "+tg.path+" "+c.name, func(t *testing.T) {
				wantProblem(t, b.req(tg.method, tg.path, tg.cred, c.body), c.status, c.code)
			})
		}
	}
	// Wrong types name the field.
	typed := []struct{ method, path, cred, body, field string }{
		{"POST", "/v1/workspaces", b.admin, `{"name": 5}`, "name"},
		{"PATCH", "/v1/workspaces/" + a.ws.ID, b.admin, `{"tier": true}`, "tier"},
		{"PATCH", "/v1/workspaces/" + a.ws.ID, b.admin, `{"overrides": {"burst": "x"}}`, "overrides"},
		{"POST", "/v1/keys", a.key, `{"scopes": "keys:read"}`, "scopes"},
		{"POST", "/v1/keys/" + k.ID + "/rotate", a.key, `{"grace": 5}`, "grace"},
		{"POST", "/v1/tasks", a.key, `{"priority": "high"}`, "priority"},
		{"POST", "/v1/tasks/claim", a.key, `{"queues": "default"}`, "queues"},
		{"POST", "/v1/tasks/" + task.ID + "/heartbeat", a.key, `{"attempt": "1"}`, "attempt"},
		{"POST", "/v1/tasks/" + task.ID + "/logs", a.key, `{"attempt": 1, "lines": "x"}`, "lines"},
		{"POST", "/v1/tasks/" + task.ID + "/fail", a.key, `{"attempt": 1, "retryable": "yes"}`, "retryable"},
		{"POST", "/v1/tasks/" + task.ID + "/steps/fetch/begin", a.key, `{"attempt": "1", "kind": "run"}`, "attempt"},
		{"POST", "/v1/tasks/" + task.ID + "/steps/fetch/begin", a.key, `{"attempt": 1e40, "kind": "run"}`, "attempt"},
		{"POST", "/v1/tasks/" + task.ID + "/steps/fetch/end", a.key, `{"attempt": 1, "error": 5}`, "error"},
		{"PATCH", "/v1/tasks/" + task.ID, a.key, `{"priority": "high"}`, "priority"},
		{"PATCH", "/v1/tasks/" + task.ID, a.key, `{"max_cost_micros": 99999999999999999999999}`, "max_cost_micros"},
		{"POST", "/v1/tasks/" + task.ID + "/retry", a.key, `{"from_step": 5}`, "from_step"},
	}
	for _, c := range typed {
		p := wantProblem(t, b.req(c.method, c.path, c.cred, c.body), 400, api.CodeInvalidRequest)
		if len(p.Errors) != 1 || p.Errors[0].Field != c.field {
			t.Errorf("%s %s %s: errors = %+v, want field %s", c.method, c.path, c.body, p.Errors, c.field)
		}
	}
	// Validation failures are 422 with every field named.
	p := wantProblem(t, b.req("POST", "/v1/workspaces", b.admin, `{"name": "Bad Name!", "tier": "gold"}`), 422, api.CodeValidationFailed)
	if len(p.Errors) != 2 {
		t.Fatalf("errors = %+v", p.Errors)
	}
	wantProblem(t, b.req("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, `{"overrides": {"nope": 1, "burst": -1}, "status": "gone"}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", "/v1/keys", a.key, `{"scopes": ["keys:read"], "expires_in": "soon"}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", "/v1/keys", a.key, `{"scopes": []}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", "/v1/keys/"+k.ID+"/rotate", a.key, `{"grace": "31d"}`), 422, api.CodeValidationFailed)
	// Steps: bad kinds, keys and names (NUL, invalid UTF-8, too long), bounds.
	stepPath := "/v1/tasks/" + task.ID + "/steps/"
	wantProblem(t, b.req("POST", stepPath+"fetch/begin", a.key, `{"attempt": 1, "kind": "dance"}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", stepPath+"fetch/begin", a.key, `{"attempt": 0, "kind": "run"}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", stepPath+"nap/begin", a.key, `{"attempt": 1, "kind": "sleep"}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", stepPath+"w/begin", a.key, `{"attempt": 1, "kind": "wait", "signal": ""}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", stepPath+"w/begin", a.key, `{"attempt": 1, "kind": "wait", "signal": "a", "timeout_seconds": -1}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", stepPath+"a%00b/begin", a.key, `{"attempt": 1, "kind": "run"}`), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("POST", stepPath+"a%ffb/begin", a.key, `{"attempt": 1, "kind": "run"}`), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("POST", stepPath+strings.Repeat("k", 201)+"/begin", a.key, `{"attempt": 1, "kind": "run"}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", stepPath+"fetch/begin", a.key, `{"attempt": 1, "kind": "run", "usage": {"tokens": -1}}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", stepPath+"fetch/end", a.key, `{"attempt": 1}`), 404, api.CodeNotFound)
	wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/signals/a%00", a.key, `{}`), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("PATCH", "/v1/tasks/"+task.ID, a.key, `{}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("PATCH", "/v1/tasks/"+task.ID, a.key, `{"max_cost_micros": -1}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("PATCH", "/v1/tasks/"+task.ID, a.key, `{"priority": 100000}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", "/v1/tasks", a.key, `{"max_cost_micros": -5}`), 422, api.CodeValidationFailed)
	wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/retry", a.key, `{}`), 409, api.CodeConflict)
	var steps api.StepList
	b.call("GET", "/v1/tasks/"+task.ID+"/steps", a.key, nil, 200, &steps)
	if len(steps.Data) != 0 {
		t.Fatalf("bad step calls wrote the journal: %+v", steps.Data)
	}
	wantProblem(t, b.req("GET", "/v1/keys?limit=0", a.key, ""), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("GET", "/v1/keys?limit=abc", a.key, ""), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("GET", "/v1/keys?cursor=!!!", a.key, ""), 400, api.CodeInvalidRequest)

	// Nothing was written: still one workspace, A's two keys, unchanged.
	var wss api.List[api.Workspace]
	b.call("GET", "/v1/workspaces", b.admin, nil, 200, &wss)
	if len(wss.Data) != 1 || wss.Data[0].Tier != "pro" || len(wss.Data[0].Overrides) != 0 || wss.Data[0].Status != api.WorkspaceActive {
		t.Fatalf("workspaces after bad input: %+v", wss.Data)
	}
	var keys api.List[api.Key]
	b.call("GET", "/v1/keys", a.key, nil, 200, &keys)
	if len(keys.Data) != 2 {
		t.Fatalf("keys after bad input: %d", len(keys.Data))
	}
	var got api.Key
	b.call("GET", "/v1/keys/"+k.ID, a.key, nil, 200, &got)
	if got.Prefix != k.Prefix || got.PreviousExpiresAt != nil {
		t.Fatalf("key rotated by bad input: %+v", got)
	}
	if got := b.getTask(a.key, task.ID); got.Status != api.TaskRunning || got.Attempt != 1 || len(got.Attempts) != 1 {
		t.Fatalf("task changed by bad input: %+v", got)
	}
	var tasks api.List[api.Task]
	b.call("GET", "/v1/tasks", a.key, nil, 200, &tasks)
	if len(tasks.Data) != 1 {
		t.Fatalf("bad submits wrote tasks: %d", len(tasks.Data))
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wantProblem(t, b.req("GET", "/v1/nope", b.admin, ""), 404, api.CodeNotFound)
	r := b.req("PUT", "/v1/keys", b.admin, "")
	p := r.problem(t)
	if r.Status != 405 || p.Status != 405 || !strings.Contains(r.Header.Get("Allow"), "GET") {
		t.Fatalf("405: status %d allow %q problem %+v", r.Status, r.Header.Get("Allow"), p)
	}
}

func TestRequestIDEchoed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.req("GET", "/healthz", "", "", api.HeaderRequestID, "my-id-1")
	if r.Header.Get(api.HeaderRequestID) != "my-id-1" {
		t.Fatalf("request id = %q", r.Header.Get(api.HeaderRequestID))
	}
	r = b.req("GET", "/v1/me", "", "")
	if id := r.Header.Get(api.HeaderRequestID); !strings.HasPrefix(id, "req_") || r.problem(t).RequestID != id {
		t.Fatalf("generated request id %q vs problem %q", id, r.problem(t).RequestID)
	}
}
