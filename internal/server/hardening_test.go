package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// brokenStore fails ListTasks with an error full of internals, and panics
// in ListAlerts, as a driver bug would.
type brokenStore struct{ store.Store }

const internals = `pq: relation "tasks_secret_idx" at /var/lib/baton/baton.db: connection to 10.0.0.7:5432 reset`

func (brokenStore) ListTasks(context.Context, string, store.TaskFilter, store.Page) ([]store.Task, error) {
	return nil, errors.New(internals)
}

func (brokenStore) ListAlerts(context.Context, string, bool, store.Page) ([]store.Alert, error) {
	panic(internals)
}

// TestInternalErrorsLeakNothing: a store error and a panic are both a 500
// problem whose body says nothing of the cause but the request id to
// quote; the log has the cause under that request id.
func TestInternalErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	b := setupWith(t, func(cfg *Config) {
		cfg.Store = brokenStore{cfg.Store}
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	a := b.newTenant("acme")
	for _, path := range []string{"/v1/tasks", "/v1/alerts"} {
		r := b.req("GET", path, a.key, "")
		if r.Status != 500 {
			t.Fatalf("GET %s = %d %s, want 500", path, r.Status, r.Body)
		}
		var p api.Problem
		if err := json.Unmarshal(r.Body, &p); err != nil || p.Code != api.CodeInternal {
			t.Fatalf("GET %s: body %s (%v), want an internal problem", path, r.Body, err)
		}
		for _, leak := range []string{"tasks_secret_idx", "/var/lib", "10.0.0.7", "pq:", "goroutine", ".go:"} {
			if strings.Contains(string(r.Body), leak) {
				t.Errorf("GET %s: the body leaks %q: %s", path, leak, r.Body)
			}
		}
		id := r.Header.Get(api.HeaderRequestID)
		if id == "" || p.RequestID != id || !strings.Contains(p.Detail, "request id") {
			t.Errorf("GET %s: request id header %q, problem %+v: the body must carry the id to quote", path, id, p)
		}
		if !strings.Contains(logs.String(), id) || !strings.Contains(logs.String(), "tasks_secret_idx") {
			t.Errorf("GET %s: the log lacks the cause under request id %s:\n%s", path, id, logs.String())
		}
	}
}

// TestNoSniff: every answer, a route's, a problem, an unknown path's and
// the API document's, tells browsers not to sniff its type.
func TestNoSniff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	for _, r := range []resp{
		b.req("GET", "/v1/me", a.key, ""),
		b.req("GET", "/v1/me", "", ""),
		b.req("GET", "/no/such/path", "", ""),
		b.req("GET", "/openapi.json", "", ""),
		b.req("GET", "/healthz", "", ""),
	} {
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("status %d: X-Content-Type-Options = %q, want nosniff", r.Status, got)
		}
	}
}

// TestSessionOfADeletedWorkspace: a session token outlives nothing — once
// its workspace (and so its key) is deleted it is refused.
func TestSessionOfADeletedWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	var tok api.TokenResponse
	b.call("POST", "/v1/auth/token", a.key, nil, 200, &tok)
	b.call("GET", "/v1/me", tok.Token, nil, 200, nil)
	b.call("DELETE", "/v1/workspaces/"+a.ws.ID, b.admin, nil, 204, nil)
	wantProblem(t, b.req("GET", "/v1/me", tok.Token, ""), 401, api.CodeUnauthenticated)
}

// TestWorkerInputBounds: a logs request of more than 1000 lines is refused
// whole (422 naming the field) and writes nothing; 1000 lines are taken.
func TestWorkerInputBounds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	lines := make([]string, 1001)
	for i := range lines {
		lines[i] = "line"
	}
	r := b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: lines}, 422, nil)
	if p := wantProblem(t, r, 422, api.CodeValidationFailed); len(p.Errors) == 0 || p.Errors[0].Field != "lines" {
		t.Errorf("1001 lines: %+v, want a field error on lines", p)
	}
	var evs api.List[api.TaskEvent]
	b.call("GET", "/v1/tasks/"+task.ID+"/events", a.key, nil, 200, &evs)
	for _, e := range evs.Data {
		if e.Type == api.EventLog {
			t.Fatalf("a refused logs request wrote %+v", e)
		}
	}
	b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: lines[:1000]}, 204, nil)
}
