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

func TestTaskMethods(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	task := api.Task{ID: "task_1", WorkspaceID: "ws_1", Queue: "default", Status: api.TaskQueued,
		Input: json.RawMessage(`{"n":1}`), Output: json.RawMessage(`null`), Attempt: 1, MaxAttempts: 3, CreatedAt: at, RunAt: at}
	next := "c2"
	usage := &api.UsageReport{Tokens: 10, CostMicros: 3100}

	for _, tc := range []struct {
		name        string
		call        func(context.Context, *Client) (any, error)
		method      string
		path, query string
		header      map[string]string // expected request headers ("" = absent)
		body        string
		status      int
		resp        any
		want        any
	}{
		{"SubmitTask", func(ctx context.Context, c *Client) (any, error) {
			return c.SubmitTask(ctx, api.SubmitTaskRequest{Queue: "q", Input: json.RawMessage(`{"n":1}`), Labels: map[string]string{"a": "b"}}, "idem-1")
		}, "POST", "/v1/tasks", "", map[string]string{"Idempotency-Key": "idem-1"},
			`{"queue":"q","input":{"n":1},"labels":{"a":"b"}}`, 201, task, task},
		{"SubmitTaskNoKey", func(ctx context.Context, c *Client) (any, error) {
			return c.SubmitTask(ctx, api.SubmitTaskRequest{}, "")
		}, "POST", "/v1/tasks", "", map[string]string{"Idempotency-Key": ""}, `{}`, 200, task, task},
		{"ListTasks", func(ctx context.Context, c *Client) (any, error) {
			return c.ListTasks(ctx, TaskListOptions{Status: "running", Queue: "q", Label: "env=prod", ListOptions: ListOptions{Limit: 5, Cursor: "c1"}})
		}, "GET", "/v1/tasks", "cursor=c1&label=env%3Dprod&limit=5&queue=q&status=running", nil, "", 200,
			api.List[api.Task]{Data: []api.Task{task}, NextCursor: &next}, api.List[api.Task]{Data: []api.Task{task}, NextCursor: &next}},
		{"ListTasksDefaults", func(ctx context.Context, c *Client) (any, error) { return c.ListTasks(ctx, TaskListOptions{}) },
			"GET", "/v1/tasks", "", nil, "", 200, api.List[api.Task]{Data: []api.Task{}}, api.List[api.Task]{Data: []api.Task{}}},
		{"GetTask", func(ctx context.Context, c *Client) (any, error) { return c.GetTask(ctx, "task_1") },
			"GET", "/v1/tasks/task_1", "", nil, "", 200, task, task},
		{"CancelTask", func(ctx context.Context, c *Client) (any, error) { return c.CancelTask(ctx, "task_1") },
			"POST", "/v1/tasks/task_1/cancel", "", nil, "", 200, task, task},
		{"ListTaskEvents", func(ctx context.Context, c *Client) (any, error) { return c.ListTaskEvents(ctx, "task_1", 7) },
			"GET", "/v1/tasks/task_1/events", "after=7", nil, "", 200,
			api.List[api.TaskEvent]{Data: []api.TaskEvent{{Seq: 8, Type: api.EventLog, Attempt: 1, Message: "hi", At: at}}},
			[]api.TaskEvent{{Seq: 8, Type: api.EventLog, Attempt: 1, Message: "hi", At: at}}},
		{"ClaimTasks", func(ctx context.Context, c *Client) (any, error) {
			return c.ClaimTasks(ctx, api.ClaimRequest{Queues: []string{"a", "b"}, WorkerID: "w1", WaitSeconds: 20, MaxTasks: 2})
		}, "POST", "/v1/tasks/claim", "", map[string]string{"Baton-Workspace": ""},
			`{"queues":["a","b"],"worker_id":"w1","wait_seconds":20,"max_tasks":2}`, 200,
			api.ClaimResponse{Tasks: []api.Task{task}, HeartbeatIntervalSeconds: 5}, api.ClaimResponse{Tasks: []api.Task{task}, HeartbeatIntervalSeconds: 5}},
		{"Heartbeat", func(ctx context.Context, c *Client) (any, error) {
			return c.Heartbeat(ctx, "ws_1", "task_1", api.HeartbeatRequest{Attempt: 2, Usage: usage})
		}, "POST", "/v1/tasks/task_1/heartbeat", "", map[string]string{"Baton-Workspace": "ws_1"},
			`{"attempt":2,"usage":{"tokens":10,"cost_micros":3100}}`, 200,
			api.HeartbeatResponse{Cancel: true, Reason: "cancelled", LeaseExpiresAt: &at}, api.HeartbeatResponse{Cancel: true, Reason: "cancelled", LeaseExpiresAt: &at}},
		{"AppendLogs", func(ctx context.Context, c *Client) (any, error) {
			return nil, c.AppendLogs(ctx, "ws_1", "task_1", api.LogsRequest{Attempt: 2, Lines: []string{"a", "b"}})
		}, "POST", "/v1/tasks/task_1/logs", "", map[string]string{"Baton-Workspace": "ws_1"},
			`{"attempt":2,"lines":["a","b"]}`, 204, nil, nil},
		{"CompleteTask", func(ctx context.Context, c *Client) (any, error) {
			return c.CompleteTask(ctx, "ws_1", "task_1", api.CompleteRequest{Attempt: 2, Output: json.RawMessage(`{"ok":true}`), Usage: usage})
		}, "POST", "/v1/tasks/task_1/complete", "", map[string]string{"Baton-Workspace": "ws_1"},
			`{"attempt":2,"output":{"ok":true},"usage":{"tokens":10,"cost_micros":3100}}`, 200, task, task},
		{"FailTask", func(ctx context.Context, c *Client) (any, error) {
			return c.FailTask(ctx, "ws_1", "task_1", api.FailRequest{Attempt: 2, Error: "exit status 1", Retryable: true})
		}, "POST", "/v1/tasks/task_1/fail", "", map[string]string{"Baton-Workspace": "ws_1"},
			`{"attempt":2,"error":"exit status 1","retryable":true}`, 200, task, task},
		{"FailTaskNoWorkspace", func(ctx context.Context, c *Client) (any, error) {
			return c.FailTask(ctx, "", "task_1", api.FailRequest{Attempt: 2, Error: "x"})
		}, "POST", "/v1/tasks/task_1/fail", "", map[string]string{"Baton-Workspace": ""},
			`{"attempt":2,"error":"x"}`, 200, task, task},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.resp == nil {
					w.WriteHeader(tc.status)
					return
				}
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
			if r.Method != tc.method || r.Path != tc.path || r.RawQuery != tc.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, tc.method, tc.path, tc.query)
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
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// The worker routes, cancel and claim are retried on 503 (they are POSTs
// made safe by fencing); a plain submit without a key is not.
func TestTaskRetries(t *testing.T) {
	unavailable := func(w http.ResponseWriter, r *http.Request) { writeProblem(w, api.CodeUnavailable, "draining") }
	ok := func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Task{ID: "task_1"}) }
	for _, tc := range []struct {
		name  string
		call  func(context.Context, *Client) error
		tries int
	}{
		{"Heartbeat", func(ctx context.Context, c *Client) error {
			_, err := c.Heartbeat(ctx, "ws_1", "task_1", api.HeartbeatRequest{Attempt: 1})
			return err
		}, 2},
		{"AppendLogs", func(ctx context.Context, c *Client) error {
			return c.AppendLogs(ctx, "ws_1", "task_1", api.LogsRequest{Attempt: 1, Lines: []string{"x"}})
		}, 2},
		{"CompleteTask", func(ctx context.Context, c *Client) error {
			_, err := c.CompleteTask(ctx, "ws_1", "task_1", api.CompleteRequest{Attempt: 1})
			return err
		}, 2},
		{"FailTask", func(ctx context.Context, c *Client) error {
			_, err := c.FailTask(ctx, "ws_1", "task_1", api.FailRequest{Attempt: 1})
			return err
		}, 2},
		{"ClaimTasks", func(ctx context.Context, c *Client) error {
			_, err := c.ClaimTasks(ctx, api.ClaimRequest{WorkerID: "w"})
			return err
		}, 2},
		{"CancelTask", func(ctx context.Context, c *Client) error { _, err := c.CancelTask(ctx, "task_1"); return err }, 2},
		{"SubmitWithKey", func(ctx context.Context, c *Client) error {
			_, err := c.SubmitTask(ctx, api.SubmitTaskRequest{}, "k")
			return err
		}, 2},
		{"SubmitWithoutKey", func(ctx context.Context, c *Client) error {
			_, err := c.SubmitTask(ctx, api.SubmitTaskRequest{}, "")
			return err
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, sequence(unavailable, ok))
			err := tc.call(context.Background(), b.c)
			if n := len(b.requests()); n != tc.tries {
				t.Fatalf("%d requests, want %d (err %v)", n, tc.tries, err)
			}
			if (err == nil) != (tc.tries == 2) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestStaleAttemptIsConflict(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.CodeConflict, "attempt 1 of task task_1 no longer holds the task (stale attempt)")
	})
	_, err := b.c.CompleteTask(context.Background(), "ws_1", "task_1", api.CompleteRequest{Attempt: 1})
	if !IsCode(err, api.CodeConflict) {
		t.Fatalf("err = %v, want conflict", err)
	}
	if n := len(b.requests()); n != 1 {
		t.Errorf("409 retried: %d requests", n)
	}
}

func TestListTaskEventsFollowsPages(t *testing.T) {
	page := func(next *string, seqs ...int64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			l := api.List[api.TaskEvent]{Data: []api.TaskEvent{}, NextCursor: next}
			for _, s := range seqs {
				l.Data = append(l.Data, api.TaskEvent{Seq: s, Type: api.EventLog})
			}
			writeJSON(w, 200, l)
		}
	}
	c2 := "2"
	b := setup(t, sequence(page(&c2, 1, 2), page(nil, 3)))
	evs, err := b.c.ListTaskEvents(context.Background(), "task_1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[2].Seq != 3 {
		t.Fatalf("events = %+v", evs)
	}
	reqs := b.requests()
	if len(reqs) != 2 || reqs[0].RawQuery != "after=0" || reqs[1].RawQuery != "after=2" {
		t.Fatalf("requests = %+v", reqs)
	}

	// A server that keeps answering the same page is refused, not looped on.
	b = setup(t, page(&c2, 1, 2))
	if _, err := b.c.ListTaskEvents(context.Background(), "task_1", 2); err == nil {
		t.Fatal("no error for pages that do not advance")
	}
	if n := len(b.requests()); n != 1 {
		t.Errorf("%d requests", n)
	}
}

func TestAllTasksFilters(t *testing.T) {
	c2 := "c2"
	b := setup(t, sequence(
		func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, api.List[api.Task]{Data: []api.Task{{ID: "task_1"}}, NextCursor: &c2})
		},
		func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, api.List[api.Task]{Data: []api.Task{{ID: "task_2"}}})
		}))
	var ids []string
	for task, err := range b.c.AllTasks(context.Background(), TaskListOptions{Queue: "q", ListOptions: ListOptions{Limit: 1, Cursor: "ignored"}}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	if !reflect.DeepEqual(ids, []string{"task_1", "task_2"}) {
		t.Fatalf("ids = %v", ids)
	}
	reqs := b.requests()
	if reqs[0].RawQuery != "limit=1&queue=q" || reqs[1].RawQuery != "cursor=c2&limit=1&queue=q" {
		t.Fatalf("queries = %q, %q", reqs[0].RawQuery, reqs[1].RawQuery)
	}
}

func TestTaskEmptyID(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { t.Error("request sent") })
	ctx := context.Background()
	if _, err := b.c.GetTask(ctx, " "); err == nil {
		t.Error("GetTask: no error")
	}
	if err := b.c.AppendLogs(ctx, "ws", "", api.LogsRequest{}); err == nil {
		t.Error("AppendLogs: no error")
	}
	if _, err := b.c.ListTaskEvents(ctx, "", 0); err == nil {
		t.Error("ListTaskEvents: no error")
	}
}
