package tasks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// recordKeys answers POST /v1/tasks with t (201), recording each request's
// Idempotency-Key in keys.
func recordKeys(keys *[]string, t api.Task) http.HandlerFunc {
	var mu sync.Mutex
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		*keys = append(*keys, r.Header.Get(api.HeaderIdempotencyKey))
		mu.Unlock()
		writeJSON(w, http.StatusCreated, t)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// script is a stub task whose event stream is scripted: GET /v1/tasks/{id}
// answers the running task until the stream has sent its end event, the
// finished task after; GET …/events answers the events as a JSON list, or
// with Accept: text/event-stream as SSE ending with `event: end`.
type script struct {
	running, finished api.Task
	events            []api.TaskEvent
	// hold keeps the stream open without an end event (a wait that times out).
	hold bool
	// dropAfter closes the first connection after that many events, without
	// an end event (0: never); the next connection repeats the last event
	// it got before the rest, which the client must not print twice.
	dropAfter int

	mu       sync.Mutex
	ended    bool
	streams  int
	resumeAt []string // Last-Event-ID of each connection
}

func newScript(final string) *script {
	id := "task_01jd0000000000000000000009"
	created := clitest.At(-time.Minute)
	started := created.Add(5 * time.Second)
	running := api.Task{ID: id, WorkspaceID: ws, Queue: "default", Status: api.TaskRunning, Attempt: 2, MaxAttempts: 3,
		Input: json.RawMessage(`{}`), CreatedAt: created, RunAt: created, StartedAt: &started}
	finished := running
	finished.Status, finished.FinishedAt = final, ptr(started.Add(42*time.Second))
	switch final {
	case api.TaskSucceeded:
		finished.Output = json.RawMessage(`{"answer":42}`)
	case api.TaskFailed:
		finished.Error = "exit status 3"
	default:
		finished.StatusReason = "stopped: " + final
	}
	at := clitest.At(-50 * time.Second)
	ev := func(typ, status string, attempt int, msg string) api.TaskEvent {
		return api.TaskEvent{Type: typ, Status: status, Attempt: attempt, Message: msg, At: at}
	}
	events := []api.TaskEvent{
		ev(api.EventState, api.TaskQueued, 0, ""),
		ev(api.EventState, api.TaskRunning, 1, ""),
		ev(api.EventLog, "", 1, "starting"),
		ev(api.EventState, api.TaskQueued, 1, "retrying: exit status 1"),
		ev(api.EventState, api.TaskRunning, 2, ""),
		ev(api.EventLog, "", 2, "hello from attempt 2"),
		ev(api.EventState, final, 2, finished.Error+finished.StatusReason),
	}
	for i := range events {
		events[i].Seq = int64(i + 1)
	}
	return &script{running: running, finished: finished, events: events}
}

func (s *script) env(t *testing.T) *clitest.Env {
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/tasks/{id}":        http.HandlerFunc(s.get),
		"GET /v1/tasks/{id}/events": http.HandlerFunc(s.serveEvents),
		"POST /v1/tasks": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := s.running
			q.Status, q.Attempt, q.StartedAt = api.TaskQueued, 0, nil
			writeJSON(w, http.StatusCreated, q)
		}),
	}.Shared())
}

// stats returns how many streams were opened and their Last-Event-IDs.
func (s *script) stats() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams, append([]string(nil), s.resumeAt...)
}

func (s *script) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.running
	if s.ended {
		t = s.finished
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, t)
}

func (s *script) serveEvents(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	if r.Header.Get("Accept") != "text/event-stream" {
		out := []api.TaskEvent{}
		for _, ev := range s.events {
			if ev.Seq > after {
				out = append(out, ev)
			}
		}
		writeJSON(w, http.StatusOK, api.List[api.TaskEvent]{Data: out})
		return
	}
	s.mu.Lock()
	s.streams++
	n := s.streams
	s.resumeAt = append(s.resumeAt, r.Header.Get("Last-Event-ID"))
	s.mu.Unlock()
	after, _ = strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if n > 1 && after > 0 {
		after-- // send the last event again: the client must drop it
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	sent := 0
	for _, ev := range s.events {
		if ev.Seq <= after {
			continue
		}
		if n == 1 && s.dropAfter > 0 && sent == s.dropAfter {
			return // connection dropped
		}
		b, _ := json.Marshal(ev)
		fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, b)
		fl.Flush()
		sent++
	}
	if s.hold {
		fmt.Fprint(w, ": keep-alive\n\n")
		fl.Flush()
		<-r.Context().Done()
		return
	}
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	fmt.Fprintf(w, "event: end\ndata: {\"status\":%q}\n\n", s.finished.Status)
	fl.Flush()
}

func TestWaitExitCodes(t *testing.T) {
	t.Parallel()
	for status, code := range map[string]int{
		api.TaskSucceeded:  0,
		api.TaskFailed:     10,
		api.TaskCancelled:  11,
		api.TaskTerminated: 12,
		api.TaskTimedOut:   12,
	} {
		t.Run(status, func(t *testing.T) {
			t.Parallel()
			s := newScript(status)
			e := s.env(t)
			r := e.Run("tasks", "wait", s.running.ID).Want(t, code)
			if !strings.Contains(r.Stdout, "status\t"+status+"\n") {
				t.Errorf("stdout:\n%s", r.Stdout)
			}
			for _, want := range []string{"==> running (attempt 1)\n", "[1] starting\n", "==> queued (attempt 1): retrying: exit status 1\n",
				"[2] hello from attempt 2\n", "==> " + status + " (attempt 2)"} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
				}
			}

			// submit --wait -o json prints exactly the finished task.
			s = newScript(status)
			e = s.env(t)
			r = e.Run("tasks", "submit", "--input", "{}", "--wait", "-o", "json").Want(t, code)
			if got := clitest.JSON[api.Task](t, r); got.Status != status || got.ID != s.running.ID {
				t.Errorf("submit --wait -o json: %+v", got)
			}
			// -q leaves stderr empty and prints only the id.
			s = newScript(status)
			r = s.env(t).Run("tasks", "submit", "--wait", "-q").Want(t, code)
			if r.Stderr != "" || r.Stdout != s.running.ID+"\n" {
				t.Errorf("-q: stdout %q, stderr %q", r.Stdout, r.Stderr)
			}
		})
	}
}

func TestWaitGolden(t *testing.T) {
	t.Parallel()
	s := newScript(api.TaskFailed)
	r := s.env(t).Run("tasks", "wait", s.running.ID).Want(t, 10)
	clitest.Golden(t, "wait_failed", clitest.Normalize(r.Stdout)+"--- stderr\n"+clitest.Normalize(r.Stderr))
	s = newScript(api.TaskSucceeded)
	r = s.env(t).Run("tasks", "logs", s.running.ID).Want(t, 0)
	clitest.Golden(t, "logs", r.Stdout+"--- stderr\n"+r.Stderr)
}

// TestWaitTimeout: --wait-timeout (tasks wait, submit --wait) ends the
// wait with exit 7; the task is left alone. The global --timeout bounds
// each HTTP request only (TestTimeoutIsPerRequest in internal/cli): with
// it, the wait goes on past it.
func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	s := newScript(api.TaskSucceeded)
	s.hold = true
	e := s.env(t)
	start := time.Now()
	r := e.Run("tasks", "wait", s.running.ID, "--timeout", "100ms", "--wait-timeout", "600ms").Want(t, 7)
	if r.Stdout != "" || !strings.Contains(r.Stderr, "error: timed out waiting for task "+s.running.ID+"; it keeps running") ||
		!strings.Contains(r.Stderr, "hint: run `baton tasks wait "+s.running.ID+"`") || !strings.Contains(r.Stderr, "[2] hello from attempt 2") {
		t.Fatalf("stdout %q\nstderr %s", r.Stdout, r.Stderr)
	}
	if d := time.Since(start); d > 5*time.Second || d < 600*time.Millisecond {
		t.Fatalf("took %s (want the --wait-timeout of 600ms, not the --timeout of 100ms)", d)
	}
	r = e.Run("tasks", "submit", "--wait", "--wait-timeout", "300ms", "-o", "json").Want(t, 7)
	var env struct {
		Error struct{ Code, Message, Hint string } `json:"error"`
	}
	last := r.Stderr[strings.LastIndex(strings.TrimSuffix(r.Stderr, "\n"), "\n")+1:]
	if err := json.Unmarshal([]byte(last), &env); err != nil || r.Stdout != "" || env.Error.Code != "wait_timeout" {
		t.Fatalf("stdout %q\nstderr %s", r.Stdout, r.Stderr)
	}
}

// TestWaitFinishedTask: a task that has already ended is printed at once,
// with its code, without following its events.
func TestWaitFinishedTask(t *testing.T) {
	t.Parallel()
	s := newScript(api.TaskCancelled)
	s.running = s.finished
	r := s.env(t).Run("tasks", "wait", s.running.ID).Want(t, 11)
	if n, _ := s.stats(); n != 0 || !strings.Contains(r.Stdout, "status\tcancelled") || !strings.Contains(r.Stderr, "cancelled: stopped: cancelled") {
		t.Fatalf("stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
}

// TestLogsFollowResumes: a dropped stream is resumed after the last event
// seen; every event is printed once, in order.
func TestLogsFollowResumes(t *testing.T) {
	t.Parallel()
	s := newScript(api.TaskSucceeded)
	s.dropAfter = 3
	e := s.env(t)
	r := e.Run("tasks", "logs", s.running.ID, "-f").Want(t, 0)
	want := e.Run("tasks", "logs", s.running.ID).Want(t, 0)
	if r.Stdout != want.Stdout || strings.Count(r.Stdout, "\n") != len(s.events) {
		t.Fatalf("logs -f:\n%s\nwant:\n%s", r.Stdout, want.Stdout)
	}
	if n, ids := s.stats(); n != 2 || ids[0] != "0" || ids[1] != "3" {
		t.Fatalf("streams %d, Last-Event-ID %q", n, ids)
	}
	// The reconnect is said once on stderr (issue 16 row 4), then its end.
	if strings.Count(r.Stderr, "event stream lost; reconnecting") != 1 || !strings.Contains(r.Stderr, "… reconnected") {
		t.Fatalf("logs -f stderr:\n%s", r.Stderr)
	}

	// JSON lines: one event per line, each once.
	s = newScript(api.TaskSucceeded)
	s.dropAfter = 2
	r = s.env(t).Run("tasks", "logs", s.running.ID, "-f", "-o", "jsonl").Want(t, 0)
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if len(lines) != len(s.events) {
		t.Fatalf("jsonl:\n%s", r.Stdout)
	}
	for i, l := range lines {
		var ev api.TaskEvent
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Seq != int64(i+1) || ev.Type != s.events[i].Type {
			t.Fatalf("line %d: %s (%v)", i, l, err)
		}
	}

	// JSON: one array, with or without -f.
	for _, args := range [][]string{{"-f"}, {}} {
		s = newScript(api.TaskFailed)
		r = s.env(t).Run(append([]string{"tasks", "logs", s.running.ID, "-o", "json"}, args...)...).Want(t, 0)
		if evs := clitest.JSON[[]api.TaskEvent](t, r); len(evs) != len(s.events) || evs[6].Status != api.TaskFailed {
			t.Fatalf("%v -o json: %+v", args, evs)
		}
	}
}
