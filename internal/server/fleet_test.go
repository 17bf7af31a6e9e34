package server

import (
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

// TestWorkersAndQueues: a claim makes its worker known (host, version from
// the User-Agent, queues, concurrency, running tasks) for a minute; queues
// show their tasks by state from the counters, as held while the workspace
// is suspended, with their pollers, shared workers included.
func TestWorkersAndQueues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("fleet")
	for range 3 {
		b.submit(a.key, api.SubmitTaskRequest{Queue: "gpu"}, "", 201)
	}
	b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	var claimed api.ClaimResponse
	b.call("POST", "/v1/tasks/claim", a.key, api.ClaimRequest{Queues: []string{"gpu"}, WorkerID: "w-1", Host: "box-1",
		Concurrency: 4, MaxTasks: 2}, 200, &claimed, "User-Agent", "baton/1.4.0 (linux/amd64)")
	if len(claimed.Tasks) != 2 {
		t.Fatalf("claimed %d tasks, want 2", len(claimed.Tasks))
	}
	// A shared worker with an operator key polls default.
	b.call("POST", "/v1/tasks/claim", b.admin, api.ClaimRequest{Queues: []string{"other"}, WorkerID: "shared-1"}, 200, nil,
		"User-Agent", "curl/8")

	var ws api.List[api.Worker]
	b.call("GET", "/v1/workers", a.key, nil, 200, &ws)
	if len(ws.Data) != 1 {
		t.Fatalf("workers = %+v, want w-1", ws.Data)
	}
	w := ws.Data[0]
	if w.ID != "w-1" || w.Host != "box-1" || w.Version != "1.4.0" || w.Concurrency != 4 || w.Running != 2 ||
		len(w.Queues) != 1 || w.Queues[0] != "gpu" || !w.LastSeenAt.Equal(b.clock().UTC().Truncate(time.Microsecond)) {
		t.Fatalf("worker = %+v", w)
	}
	var all api.List[api.Worker]
	b.call("GET", "/v1/workers", b.admin, nil, 200, &all)
	if len(all.Data) != 2 || all.Data[0].ID != "shared-1" || all.Data[0].WorkspaceID != "" || all.Data[0].Version != "" {
		t.Fatalf("an operator's workers = %+v, want shared-1 and w-1", all.Data)
	}

	// As an operator sees them (a suspended workspace's own keys are refused).
	queues := func() map[string]api.Queue {
		t.Helper()
		var l api.List[api.Queue]
		b.call("GET", "/v1/queues", b.admin, nil, 200, &l, api.HeaderWorkspace, a.ws.ID)
		out := map[string]api.Queue{}
		for _, q := range l.Data {
			out[q.Name] = q
		}
		if l.NextCursor != nil {
			t.Fatalf("queues next_cursor = %v, want null", *l.NextCursor)
		}
		return out
	}
	got := queues()
	if q := got["gpu"]; q.Queued != 1 || q.Running != 2 || q.Held != 0 || q.Pollers != 1 || q.OldestQueuedAt == nil {
		t.Fatalf("gpu = %+v", q)
	}
	if q := got["default"]; q.Queued != 1 || q.Running != 0 || q.Pollers != 0 {
		t.Fatalf("default = %+v", q)
	}

	// Suspended: its queued tasks are held.
	b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"status": api.WorkspaceSuspended}, 200, nil)
	if q := queues()["gpu"]; q.Queued != 0 || q.Held != 1 || q.Running != 2 {
		t.Fatalf("gpu while suspended = %+v", q)
	}
	b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"status": api.WorkspaceActive}, 200, nil)

	// A minute later without a claim, the worker is gone and polls nothing.
	b.advance(tasks.WorkerWindow + time.Second)
	b.call("GET", "/v1/workers", a.key, nil, 200, &ws)
	if len(ws.Data) != 0 {
		t.Fatalf("workers after a quiet minute = %+v", ws.Data)
	}
	if q := queues()["gpu"]; q.Pollers != 0 {
		t.Fatalf("gpu pollers after a quiet minute = %d", q.Pollers)
	}

	// An operator key must name the workspace for queues.
	wantProblem(t, b.req("GET", "/v1/queues", b.admin, ""), 400, api.CodeInvalidRequest)
	var own api.List[api.Queue]
	b.call("GET", "/v1/queues", a.key, nil, 200, &own)
	if len(own.Data) != 2 || own.Data[0].Name != "default" || own.Data[1].Name != "gpu" {
		t.Fatalf("queues with the workspace's key = %+v", own.Data)
	}
	// Scope: tasks:read.
	k := b.newKey(a.key, api.ScopeKeysRead)
	wantProblem(t, b.req("GET", "/v1/queues", k.Secret, ""), 403, api.CodeForbidden)
	wantProblem(t, b.req("GET", "/v1/workers", k.Secret, ""), 403, api.CodeForbidden)
}

// TestClaimDescribesWorkerBounded: host and concurrency are bounded.
func TestClaimDescribesWorkerBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("bounded")
	for _, body := range []string{
		`{"worker_id":"w","concurrency":-1}`,
		`{"worker_id":"w","concurrency":10001}`,
		`{"worker_id":"w","concurrency":"4"}`,
		`{"worker_id":"w","host":"` + strings.Repeat("h", 256) + `"}`,
	} {
		r := b.req("POST", "/v1/tasks/claim", a.key, body)
		if r.Status != 400 && r.Status != 422 {
			t.Errorf("claim %s: status %d, want 400 or 422: %s", body, r.Status, r.Body)
		}
	}
	var ws api.List[api.Worker]
	b.call("GET", "/v1/workers", a.key, nil, 200, &ws)
	if len(ws.Data) != 0 {
		t.Fatalf("a refused claim recorded its worker: %+v", ws.Data)
	}
}
