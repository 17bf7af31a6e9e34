package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// submit posts a task with an optional idempotency key.
func (b *bundle) submit(cred string, req api.SubmitTaskRequest, idem string, want int) api.Task {
	b.t.Helper()
	var t api.Task
	var h []string
	if idem != "" {
		h = []string{api.HeaderIdempotencyKey, idem}
	}
	b.call("POST", "/v1/tasks", cred, req, want, &t, h...)
	return t
}

func (b *bundle) claim(cred string, queues ...string) []api.Task {
	b.t.Helper()
	var out api.ClaimResponse
	b.call("POST", "/v1/tasks/claim", cred, api.ClaimRequest{Queues: queues, WorkerID: "w1", MaxTasks: 10}, 200, &out)
	return out.Tasks
}

func (b *bundle) heartbeat(cred, id string, attempt int, want int, headers ...string) api.HeartbeatResponse {
	b.t.Helper()
	var out api.HeartbeatResponse
	b.call("POST", "/v1/tasks/"+id+"/heartbeat", cred, api.HeartbeatRequest{Attempt: attempt}, want, &out, headers...)
	return out
}

func (b *bundle) getTask(cred, id string) api.Task {
	b.t.Helper()
	var t api.Task
	b.call("GET", "/v1/tasks/"+id, cred, nil, 200, &t)
	return t
}

func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	req := api.SubmitTaskRequest{Input: json.RawMessage(`{"q": 1}`), Labels: map[string]string{"team": "ml"}}
	task := b.submit(a.key, req, "k1", 201)
	if task.Status != api.TaskQueued || task.Queue != "default" || task.MaxAttempts != 3 || task.IdempotencyKey != "k1" {
		t.Fatalf("submitted = %+v", task)
	}
	// Same key, same body: the same task. Same key, other body: 409.
	if again := b.submit(a.key, req, "k1", 200); again.ID != task.ID {
		t.Fatalf("replay made %s, want %s", again.ID, task.ID)
	}
	wantProblem(t, b.call("POST", "/v1/tasks", a.key, api.SubmitTaskRequest{Input: json.RawMessage(`{"q": 2}`)}, 409, nil, api.HeaderIdempotencyKey, "k1"), 409, api.CodeConflict)

	claimed := b.claim(a.key)
	if len(claimed) != 1 || claimed[0].ID != task.ID || claimed[0].Attempt != 1 || claimed[0].Status != api.TaskRunning {
		t.Fatalf("claimed = %+v", claimed)
	}
	b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: []string{"hello", "world"}}, 204, nil)
	b.advance(2 * time.Second)
	hb := b.heartbeat(a.key, task.ID, 1, 200)
	if hb.Cancel || hb.LeaseExpiresAt == nil || !hb.LeaseExpiresAt.Equal(b.clock().Add(30*time.Second)) {
		t.Fatalf("heartbeat = %+v", hb)
	}
	var done api.Task
	b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1, Output: json.RawMessage(`{"answer":42}`),
		Usage: &api.UsageReport{Tokens: 100, CostMicros: 5}}, 200, &done)
	if done.Status != api.TaskSucceeded || string(done.Output) != `{"answer":42}` || done.Usage.ExecutionMS != 2000 || done.Usage.Tokens != 100 {
		t.Fatalf("completed = %+v", done)
	}
	got := b.getTask(a.key, task.ID)
	if len(got.Attempts) != 1 || got.Attempts[0].Status != api.TaskSucceeded || got.FinishedAt == nil {
		t.Fatalf("get = %+v", got)
	}
	var evs api.List[api.TaskEvent]
	b.call("GET", "/v1/tasks/"+task.ID+"/events", a.key, nil, 200, &evs)
	var kinds []string
	for _, e := range evs.Data {
		kinds = append(kinds, e.Type+":"+e.Status+e.Message)
	}
	if fmt.Sprint(kinds) != "[state:queued state:runningclaimed by w1 log:hello log:world state:succeeded]" {
		t.Fatalf("events = %v", kinds)
	}
	// Terminal states never change.
	wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/cancel", a.key, ""), 409, api.CodeConflict)
	wantProblem(t, b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1}, 409, nil), 409, api.CodeConflict)
}

func TestTaskRetryAndFencing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{MaxAttempts: 2}, "", 201)
	b.claim(a.key)
	var failed api.Task
	b.call("POST", "/v1/tasks/"+task.ID+"/fail", a.key, api.FailRequest{Attempt: 1, Error: "exit status 1", Retryable: true}, 200, &failed)
	if failed.Status != api.TaskQueued || !strings.Contains(failed.StatusReason, "exit status 1") || !failed.RunAt.After(b.clock()) {
		t.Fatalf("after retryable fail = %+v", failed)
	}
	if got := b.claim(a.key); len(got) != 0 {
		t.Fatalf("claimed before the backoff ended: %+v", got)
	}
	b.advance(2 * time.Second)
	if got := b.claim(a.key); len(got) != 1 || got[0].Attempt != 2 {
		t.Fatalf("second claim = %+v", got)
	}
	// Attempt 1 is fenced off: nothing it says changes anything.
	wantProblem(t, b.call("POST", "/v1/tasks/"+task.ID+"/heartbeat", a.key, api.HeartbeatRequest{Attempt: 1, Usage: &api.UsageReport{Tokens: 999}}, 409, nil), 409, api.CodeConflict)
	wantProblem(t, b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1, Usage: &api.UsageReport{Tokens: 999}}, 409, nil), 409, api.CodeConflict)
	wantProblem(t, b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: []string{"zombie"}}, 409, nil), 409, api.CodeConflict)
	var final api.Task
	b.call("POST", "/v1/tasks/"+task.ID+"/fail", a.key, api.FailRequest{Attempt: 2, Error: "again", Retryable: true}, 200, &final)
	if final.Status != api.TaskFailed || final.Usage.Tokens != 0 || final.Attempt != 2 {
		t.Fatalf("after last attempt = %+v", final)
	}
}

func TestCancelAndTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	queued := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	var c api.Task
	b.call("POST", "/v1/tasks/"+queued.ID+"/cancel", a.key, nil, 200, &c)
	if c.Status != api.TaskCancelled {
		t.Fatalf("cancel queued = %+v", c)
	}

	running := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	b.call("POST", "/v1/tasks/"+running.ID+"/cancel", a.key, nil, 200, &c)
	if hb := b.heartbeat(a.key, running.ID, 1, 200); !hb.Cancel || hb.Reason != api.TaskCancelled {
		t.Fatalf("heartbeat after cancel = %+v", hb)
	}
	wantProblem(t, b.call("POST", "/v1/tasks/"+running.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1}, 409, nil), 409, api.CodeConflict)

	slow := b.submit(a.key, api.SubmitTaskRequest{TimeoutSeconds: 10}, "", 201)
	b.claim(a.key)
	b.advance(5 * time.Second)
	if hb := b.heartbeat(a.key, slow.ID, 1, 200); hb.Cancel {
		t.Fatal("cancelled before its timeout")
	}
	b.advance(6 * time.Second)
	if hb := b.heartbeat(a.key, slow.ID, 1, 200); !hb.Cancel || hb.Reason != api.TaskTimedOut {
		t.Fatalf("heartbeat past timeout = %+v", hb)
	}
	if got := b.getTask(a.key, slow.ID); got.Status != api.TaskTimedOut || got.Usage.ExecutionMS != 11000 {
		t.Fatalf("timed out task = %+v", got)
	}

	// max_task_duration_seconds = 0 means no limit, not "time out at once".
	b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"overrides": map[string]any{"max_task_duration_seconds": 0}}, 200, nil)
	free := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	b.advance(10 * time.Hour)
	if hb := b.heartbeat(a.key, free.ID, 1, 200); hb.Cancel {
		t.Fatalf("a task with no time limit was stopped: %+v", hb)
	}
}

func TestLeaseExpiryRequeues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	b.advance(31 * time.Second)
	if n, err := b.srv.Tasks().Reap(t.Context()); err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	if got := b.getTask(a.key, task.ID); got.Status != api.TaskQueued || got.Attempts[0].Status != "expired" {
		t.Fatalf("after expiry = %+v", got)
	}
	b.advance(2 * time.Second)
	if got := b.claim(a.key); len(got) != 1 || got[0].Attempt != 2 {
		t.Fatalf("reclaim = %+v", got)
	}
	wantProblem(t, b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1}, 409, nil), 409, api.CodeConflict)
}

func TestSharedWorkerAndConcurrencyCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a, z := b.newTenant("alpha"), b.newTenant("zulu")
	b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"overrides": map[string]any{"max_concurrent_tasks": 1}}, 200, nil)
	for range 3 {
		b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
		b.submit(z.key, api.SubmitTaskRequest{}, "", 201)
	}
	got := b.claim(b.admin) // operator key: a shared worker
	per := map[string]int{}
	for _, t := range got {
		per[t.WorkspaceID]++
	}
	if per[a.ws.ID] != 1 || per[z.ws.ID] != 3 {
		t.Fatalf("shared claim per workspace = %v (alpha is capped at 1)", per)
	}
	// The shared worker names the task's workspace; without it the route
	// refuses, and another workspace's id finds nothing.
	id := got[0].ID
	ws := got[0].WorkspaceID
	wantProblem(t, b.call("POST", "/v1/tasks/"+id+"/heartbeat", b.admin, api.HeartbeatRequest{Attempt: 1}, 400, nil), 400, api.CodeInvalidRequest)
	other := a.ws.ID
	if ws == a.ws.ID {
		other = z.ws.ID
	}
	wantProblem(t, b.call("POST", "/v1/tasks/"+id+"/heartbeat", b.admin, api.HeartbeatRequest{Attempt: 1}, 404, nil, api.HeaderWorkspace, other), 404, api.CodeNotFound)
	b.heartbeat(b.admin, id, 1, 200, api.HeaderWorkspace, ws)
}

func TestClaimLongPollWakesOnSubmit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	got := make(chan []api.Task, 1)
	go func() {
		var out api.ClaimResponse
		raw, _ := json.Marshal(api.ClaimRequest{WorkerID: "w", WaitSeconds: 30})
		r := b.req("POST", "/v1/tasks/claim", a.key, string(raw))
		_ = json.Unmarshal(r.Body, &out)
		got <- out.Tasks
	}()
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	select {
	case tasks := <-got:
		if len(tasks) != 1 || tasks[0].ID != task.ID {
			t.Fatalf("long poll got %+v", tasks)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("long poll was not woken by the submit")
	}
}

func TestEventStreamResumes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: []string{"one"}}, 204, nil)

	stream := func(lastID string) (*bufio.Scanner, func()) {
		req, _ := http.NewRequest("GET", b.http.URL+"/v1/tasks/"+task.ID+"/events", nil)
		req.Header.Set("Authorization", "Bearer "+a.key)
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		res, err := b.http.Client().Do(req)
		if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %v %v", err, res)
		}
		return bufio.NewScanner(res.Body), func() { res.Body.Close() }
	}
	// next reads one event's id and data line.
	next := func(sc *bufio.Scanner) (id, event, data string) {
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && event != "":
				return id, event, data
			}
		}
		t.Fatalf("stream ended early: %v", sc.Err())
		return
	}
	sc, closeFirst := stream("")
	var ids []string
	for range 3 { // queued, running, log "one"
		id, _, _ := next(sc)
		ids = append(ids, id)
	}
	closeFirst()
	if fmt.Sprint(ids) != "[1 2 3]" {
		t.Fatalf("first stream ids = %v", ids)
	}
	b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: []string{"two"}}, 204, nil)
	b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1}, 200, nil)
	sc, closeSecond := stream("3")
	defer closeSecond()
	var rest []string
	for {
		id, event, data := next(sc)
		rest = append(rest, id+":"+event)
		if event == "end" {
			if !strings.Contains(data, api.TaskSucceeded) {
				t.Fatalf("end event data = %s", data)
			}
			break
		}
	}
	if fmt.Sprint(rest) != "[4:log 5:state :end]" {
		t.Fatalf("resumed stream = %v", rest)
	}
}

func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	big := `{"input": {"x": "` + strings.Repeat("a", api.MaxTaskInputBytes) + `"}}`
	wantProblem(t, b.req("POST", "/v1/tasks", a.key, big), 413, api.CodePayloadTooLarge)
	p := wantProblem(t, b.req("POST", "/v1/tasks", a.key, `{"input": [1], "queue": "bad queue", "max_attempts": 500, "priority": 5000, "timeout_seconds": -1, "labels": {"bad key!": "v"}}`), 422, api.CodeValidationFailed)
	fields := map[string]bool{}
	for _, e := range p.Errors {
		fields[e.Field] = true
	}
	for _, f := range []string{"input", "queue", "max_attempts", "priority", "timeout_seconds", "labels.bad key!"} {
		if !fields[f] {
			t.Errorf("no error for field %s: %+v", f, p.Errors)
		}
	}
	wantProblem(t, b.req("GET", "/v1/tasks?status=bogus", a.key, ""), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("GET", "/v1/tasks?label=nokey", a.key, ""), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("GET", "/v1/tasks/x/events?after=-1", a.key, ""), 400, api.CodeInvalidRequest)
	wantProblem(t, b.req("POST", "/v1/tasks/claim", a.key, `{"worker_id": "", "wait_seconds": 999, "max_tasks": 0}`), 422, api.CodeValidationFailed)
	var list api.List[api.Task]
	b.call("GET", "/v1/tasks", a.key, nil, 200, &list)
	if len(list.Data) != 0 {
		t.Fatalf("a refused submit wrote a task: %+v", list.Data)
	}
}

// TestDrainEndsEventStreams: a client following a task does not hold up a
// shutdown; its stream ends when the server drains.
func TestDrainEndsEventStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	req, _ := http.NewRequest("GET", b.http.URL+"/v1/tasks/"+task.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Accept", "text/event-stream")
	res, err := b.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	ended := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
		}
		close(ended)
	}()
	b.srv.Drain()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("event stream still open after Drain")
	}
}

// TestListFiltersByEveryLabel: label may repeat, and a task must carry
// every one; too many filters are a 400.
func TestListFiltersByEveryLabel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("labels")
	both := b.submit(a.key, api.SubmitTaskRequest{Labels: map[string]string{"env": "prod", "team": "x"}}, "", 201)
	b.submit(a.key, api.SubmitTaskRequest{Labels: map[string]string{"env": "prod"}}, "", 201)
	b.submit(a.key, api.SubmitTaskRequest{Labels: map[string]string{"team": "x"}}, "", 201)
	var l api.List[api.Task]
	b.call("GET", "/v1/tasks?label=env=prod&label=team=x", a.key, nil, 200, &l)
	if len(l.Data) != 1 || l.Data[0].ID != both.ID {
		t.Fatalf("label=env=prod&label=team=x listed %+v, want only %s", l.Data, both.ID)
	}
	b.call("GET", "/v1/tasks?label=env=prod", a.key, nil, 200, &l)
	if len(l.Data) != 2 {
		t.Fatalf("label=env=prod listed %d tasks, want 2", len(l.Data))
	}
	many := strings.Repeat("&label=k=v", maxLabelFilters+1)
	wantProblem(t, b.req("GET", "/v1/tasks?"+many[1:], a.key, ""), 400, api.CodeInvalidRequest)
}
