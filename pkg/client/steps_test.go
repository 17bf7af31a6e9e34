package client

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func TestStepMethods(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	task := api.Task{ID: "task_1", Status: api.TaskQueued, Input: json.RawMessage(`{}`), Output: json.RawMessage(`null`), CreatedAt: at, RunAt: at}
	step := api.Step{Key: "fetch", Kind: api.StepRun, Status: api.StepSucceeded, Attempts: 1, Output: json.RawMessage(`1`), StartedAt: at}
	begun := api.StepBeginResponse{Action: api.ActionRun, Key: "a #1/b", IdempotencyKey: "task_1/a #1/b"}
	sig := api.Signal{ID: "sig_1", TaskID: "task_1", Name: "go", Data: json.RawMessage(`{"ok":true}`), CreatedAt: at}
	cost, prio := int64(500_000), 3
	for _, tc := range []struct {
		name    string
		call    func(context.Context, *Client) (any, error)
		method  string
		rawPath string // the path as sent (escaped)
		header  map[string]string
		body    string
		status  int
		resp    any
		want    any
	}{
		{"BeginStep", func(ctx context.Context, c *Client) (any, error) {
			return c.BeginStep(ctx, "ws_1", "task_1", "a #1/b", api.StepBeginRequest{Attempt: 2, Kind: api.StepRun, AtMostOnce: true})
		}, "POST", "/v1/tasks/task_1/steps/a%20%231%2Fb/begin", map[string]string{"Baton-Workspace": "ws_1"},
			`{"attempt":2,"kind":"run","at_most_once":true}`, 200, begun, begun},
		{"EndStep", func(ctx context.Context, c *Client) (any, error) {
			return c.EndStep(ctx, "", "task_1", "fetch#2", api.StepEndRequest{Attempt: 2, Output: json.RawMessage(`"x"`), Usage: &api.UsageReport{Tokens: 5}})
		}, "POST", "/v1/tasks/task_1/steps/fetch%232/end", map[string]string{"Baton-Workspace": ""},
			`{"attempt":2,"output":"x","usage":{"tokens":5,"cost_micros":0}}`, 200, api.StepEndResponse{Action: api.ActionDone}, api.StepEndResponse{Action: api.ActionDone}},
		{"ListSteps", func(ctx context.Context, c *Client) (any, error) { return c.ListSteps(ctx, "task_1") },
			"GET", "/v1/tasks/task_1/steps", nil, "", 200, api.StepList{Data: []api.Step{step}}, []api.Step{step}},
		{"Signal", func(ctx context.Context, c *Client) (any, error) {
			return c.Signal(ctx, "task_1", "go now", json.RawMessage(`{"ok":true}`), "k1")
		}, "POST", "/v1/tasks/task_1/signals/go%20now", map[string]string{"Idempotency-Key": "k1"},
			`{"data":{"ok":true}}`, 201, sig, sig},
		{"UpdateTask", func(ctx context.Context, c *Client) (any, error) {
			return c.UpdateTask(ctx, "task_1", api.UpdateTaskRequest{MaxCostMicros: &cost, Priority: &prio})
		}, "PATCH", "/v1/tasks/task_1", nil, `{"max_cost_micros":500000,"priority":3}`, 200, task, task},
		{"RetryTask", func(ctx context.Context, c *Client) (any, error) {
			return c.RetryTask(ctx, "task_1", api.RetryTaskRequest{FromStep: "fetch"})
		}, "POST", "/v1/tasks/task_1/retry", nil, `{"from_step":"fetch"}`, 200, task, task},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rawPath string
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				rawPath = r.URL.EscapedPath()
				writeJSON(w, tc.status, tc.resp)
			})
			got, err := tc.call(context.Background(), b.c)
			if err != nil {
				t.Fatal(err)
			}
			reqs := b.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tc.method || rawPath != tc.rawPath {
				t.Errorf("request = %s %s, want %s %s", r.Method, rawPath, tc.method, tc.rawPath)
			}
			for k, v := range tc.header {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.body == "" {
				if r.Body != "" {
					t.Errorf("unexpected body %q", r.Body)
				}
			} else if !jsonEqual(t, r.Body, tc.body) {
				t.Errorf("body = %s, want %s", r.Body, tc.body)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A begin is not retried once sent (a second would number the key KEY#2);
// empty ids, keys and names fail before any request.
func TestStepCallsNotRetriedAndChecked(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, api.NewProblem(api.CodeUnavailable, "draining"))
	})
	ctx := context.Background()
	if _, err := b.c.BeginStep(ctx, "", "task_1", "k", api.StepBeginRequest{Attempt: 1, Kind: api.StepRun}); err == nil {
		t.Fatal("begin on 503 succeeded")
	}
	if n := len(b.requests()); n != 1 {
		t.Errorf("begin sent %d times, want 1", n)
	}
	if _, err := b.c.BeginStep(ctx, "", "task_1", "", api.StepBeginRequest{}); err == nil {
		t.Error("begin with an empty key succeeded")
	}
	if _, err := b.c.Signal(ctx, "task_1", "", nil, ""); err == nil {
		t.Error("signal with an empty name succeeded")
	}
	if _, err := b.c.ListSteps(ctx, " "); err == nil {
		t.Error("list steps with an empty id succeeded")
	}
	if n := len(b.requests()); n != 1 {
		t.Errorf("%d requests, want only the first begin", n)
	}
}
