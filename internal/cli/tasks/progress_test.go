package tasks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// heldTask is a stub task that stays queued (its stream never ends), in
// queue "email" with the given pollers (GET /v1/queues), waiting for a
// retry due in 90s; workers, when not nil, is GET /v1/workers (an
// http.HandlerFunc or a list of workers).
func heldTask(t *testing.T, workers any, pollers int, retry bool) (*clitest.Env, api.Task) {
	created := clitest.At(-time.Minute)
	task := api.Task{ID: "task_01jd0000000000000000000042", WorkspaceID: ws, Queue: "email", Status: api.TaskQueued,
		Attempt: 0, MaxAttempts: 3, Input: json.RawMessage(`{}`), CreatedAt: created, RunAt: created}
	events := []api.TaskEvent{{Seq: 1, Type: api.EventState, Status: api.TaskQueued, At: created}}
	if retry {
		task.Attempt, task.RunAt = 1, clitest.At(90*time.Second)
		events = append(events, api.TaskEvent{Seq: 2, Type: api.EventState, Status: api.TaskQueued, Attempt: 1,
			Message: "retrying: exit status 1", At: created.Add(time.Second)})
	}
	routes := clitest.Routes{
		"GET /v1/tasks/{id}": task,
		// Asked only when no worker listed has polled lately.
		"GET /v1/queues": clitest.Optional{Response: api.List[api.Queue]{Data: []api.Queue{
			{Name: "default", Pollers: 3}, {Name: "email", Queued: 1, Pollers: pollers}}}},
		"GET /v1/tasks/{id}/events": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, ev := range events {
				b, _ := json.Marshal(ev)
				fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, ev.Type, b)
			}
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}),
	}
	switch w := workers.(type) {
	case nil:
	case http.HandlerFunc:
		routes["GET /v1/workers"] = w
	default:
		routes["GET /v1/workers"] = api.List[api.Worker]{Data: w.([]api.Worker)}
	}
	return clitest.NewStub(t, routes), task
}

// polled is a worker of the workspace on queues, last seen ago before at.
func polled(id string, at time.Time, ago time.Duration, queues ...string) api.Worker {
	return api.Worker{ID: id, WorkspaceID: ws, Host: "build-01", Version: "1.2.0", Queues: queues, Concurrency: 4, LastSeenAt: at.Add(-ago)}
}

const noPollerWarning = "warning: no worker has polled queue email in the last 30s: the task waits until one does (start one with `baton worker run --queue email -- CMD`)"

// TestWaitWarnsWithoutPollers (issue 16 row 4 and "warn on stderr when no
// worker has polled the queue in 30 s"): with the clock injected, a wait
// warns once on stderr, even with -q, when the presence list (GET
// /v1/workers) has no worker on the task's queue seen in the last 30 s; a
// worker seen 29 s ago, or a poller GET /v1/queues counts that the key
// cannot list (an operator's shared worker), keeps it quiet. A server
// without /v1/workers falls back to GET /v1/queues' pollers.
func TestWaitWarnsWithoutPollers(t *testing.T) {
	t.Parallel()
	now := clitest.At(0)
	clock := func() time.Time { return now }
	for _, c := range []struct {
		name    string
		workers any // nil: no /v1/workers route (404)
		pollers int
		warn    bool
	}{
		{"seen 31s ago", []api.Worker{polled("w-1", now, 31*time.Second, "email")}, 1, true},
		{"seen 30s ago", []api.Worker{polled("w-1", now, 30*time.Second, "email")}, 1, false},
		{"seen 29s ago", []api.Worker{polled("w-1", now, 29*time.Second, "email", "default")}, 1, false},
		{"on another queue", []api.Worker{polled("w-1", now, time.Second, "default")}, 0, true},
		{"nobody", []api.Worker{}, 0, true},
		{"a shared worker out of sight", []api.Worker{}, 1, false},
		{"a stale one and a shared one", []api.Worker{polled("w-1", now, 45*time.Second, "email")}, 2, false},
		{"old server, no pollers", nil, 0, true},
		{"old server, a poller", nil, 1, false},
	} {
		e, task := heldTask(t, c.workers, c.pollers, false)
		for _, args := range [][]string{{"tasks", "wait", task.ID, "--wait-timeout", "300ms"}, {"tasks", "wait", task.ID, "--wait-timeout", "300ms", "-q"}} {
			r := e.Exec(clitest.Invocation{Args: args, Now: clock, Env: map[string]string{"BATON_API_KEY": e.Key}}).Want(t, 7)
			if n := strings.Count(r.Stderr, noPollerWarning); n != map[bool]int{true: 1}[c.warn] || !c.warn && strings.Contains(r.Stderr, "warning:") {
				t.Errorf("%s: %s:\n%s", c.name, strings.Join(args[3:], " "), r.Stderr)
			}
		}
	}
}

// TestWaitWarnsWhenPollingStops: the queue is checked again while the task
// waits: a worker seen 10 s before the wait began, that polls no more,
// gets the warning once the clock has moved 25 s on (35 s since it was
// seen), once.
func TestWaitWarnsWhenPollingStops(t *testing.T) {
	t.Parallel()
	start := clitest.At(0)
	var asked atomic.Int32
	clock := func() time.Time {
		if asked.Load() > 1 { // from the second check on
			return start.Add(25 * time.Second)
		}
		return start
	}
	list := api.List[api.Worker]{Data: []api.Worker{polled("w-1", start, 10*time.Second, "email")}}
	e, task := heldTask(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	}), 1, false)
	r := e.Exec(clitest.Invocation{Args: []string{"tasks", "wait", task.ID, "--wait-timeout", "1s"}, Now: clock,
		Env: map[string]string{"BATON_API_KEY": e.Key}}).Want(t, 7)
	if asked.Load() < 2 || strings.Count(r.Stderr, noPollerWarning) != 1 {
		t.Fatalf("%d checks; stderr:\n%s", asked.Load(), r.Stderr)
	}
}

// TestWaitShowsNextAttempt: a task queued for a retry says when the next
// attempt is due; on a terminal a spinner line shows the status and time.
func TestWaitShowsNextAttempt(t *testing.T) {
	t.Parallel()
	e, task := heldTask(t, []api.Worker{}, 1, true)
	r := e.Run("tasks", "wait", task.ID, "--wait-timeout", "400ms").Want(t, 7)
	if !regexp.MustCompile(`==> next attempt \(2 of 3\) in 1m(29|30)s, at \d\d:\d\d:\d\d\n`).MatchString(r.Stderr) {
		t.Fatalf("stderr:\n%s", r.Stderr)
	}
	if strings.Contains(r.Stderr, "\r") {
		t.Fatalf("spinner drawn when stderr is not a terminal:\n%q", r.Stderr)
	}
	tty := e.Exec(clitest.Invocation{Args: []string{"tasks", "wait", task.ID, "--wait-timeout", "400ms"}, TTY: true,
		Env: map[string]string{"BATON_API_KEY": e.Key}}).Want(t, 7)
	if !regexp.MustCompile(`\r\x1b\[K. task_01jd0000000000000000000042 queued · 0s`).MatchString(tty.Stderr) || !strings.HasSuffix(strings.TrimSuffix(tty.Stderr, tty.Stderr[strings.LastIndex(tty.Stderr, "error:"):]), "\r\x1b[K") {
		t.Fatalf("no spinner on a terminal, or not cleared:\n%q", tty.Stderr)
	}
}

// TestLogsTimestamps: on a terminal each line starts with its time; piped
// only with --timestamps.
func TestLogsTimestamps(t *testing.T) {
	t.Parallel()
	s := newScript(api.TaskSucceeded)
	e := s.env(t)
	stamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z `)
	tty := e.TTY("tasks", "logs", s.running.ID).Want(t, 0)
	piped := e.Run("tasks", "logs", s.running.ID).Want(t, 0)
	forced := e.Run("tasks", "logs", s.running.ID, "--timestamps").Want(t, 0)
	off := e.TTY("tasks", "logs", s.running.ID, "--timestamps=false").Want(t, 0)
	for name, c := range map[string]struct {
		out  string
		want bool
	}{"tty": {tty.Stdout, true}, "piped": {piped.Stdout, false}, "--timestamps": {forced.Stdout, true}, "--timestamps=false": {off.Stdout, false}} {
		for _, l := range strings.Split(strings.TrimSuffix(c.out, "\n"), "\n") {
			if stamp.MatchString(l) != c.want {
				t.Errorf("%s: line %q", name, l)
			}
		}
	}
	if off.Stdout != piped.Stdout {
		t.Errorf("--timestamps=false on a terminal differs from piped")
	}
}

// TestLogsJQ: --jq reads the whole list of events; -q keeps the lines.
func TestLogsJQ(t *testing.T) {
	t.Parallel()
	s := newScript(api.TaskSucceeded)
	e := s.env(t)
	r := e.Run("tasks", "logs", s.running.ID, "--jq", `.[] | select(.type == "log") | .message`).Want(t, 0)
	if r.Stdout != "starting\nhello from attempt 2\n" {
		t.Fatalf("--jq: %q", r.Stdout)
	}
	if q := e.Run("tasks", "logs", s.running.ID, "-q").Want(t, 0); q.Stdout != e.Run("tasks", "logs", s.running.ID).Stdout {
		t.Fatalf("-q: %q", q.Stdout)
	}
}

// TestWaitNamesWorker (issue 16 row 4): while the task runs, the spinner
// line on a terminal names the worker that holds it (from the task's last
// attempt); piped, nothing is drawn.
func TestWaitNamesWorker(t *testing.T) {
	t.Parallel()
	started := clitest.At(-time.Minute)
	task := api.Task{ID: "task_01jd0000000000000000000043", WorkspaceID: ws, Queue: "email", Status: api.TaskRunning,
		Attempt: 1, MaxAttempts: 3, Input: json.RawMessage(`{}`), CreatedAt: started, RunAt: started, StartedAt: &started,
		Attempts: []api.Attempt{{Number: 1, WorkerID: "w-build-01-4242", Status: "running", StartedAt: started}}}
	e := clitest.NewStub(t, clitest.Routes{
		"GET /v1/tasks/{id}": task,
		"GET /v1/tasks/{id}/events": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			b, _ := json.Marshal(api.TaskEvent{Seq: 1, Type: api.EventState, Status: api.TaskRunning, Attempt: 1, At: started})
			fmt.Fprintf(w, "id: 1\nevent: state\ndata: %s\n\n", b)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}),
	})
	tty := e.Exec(clitest.Invocation{Args: []string{"tasks", "wait", task.ID, "--wait-timeout", "1s"}, TTY: true,
		Env: map[string]string{"BATON_API_KEY": e.Key}}).Want(t, 7)
	if !regexp.MustCompile(`\r\x1b\[K. task_01jd0000000000000000000043 running on worker w-build-01-4242 · \ds`).MatchString(tty.Stderr) {
		t.Fatalf("the spinner does not name the worker:\n%q", tty.Stderr)
	}
	piped := e.Run("tasks", "wait", task.ID, "--wait-timeout", "300ms").Want(t, 7)
	if strings.Contains(piped.Stderr, "\r") || strings.Contains(piped.Stderr, "w-build-01") {
		t.Fatalf("piped: %q", piped.Stderr)
	}
}
