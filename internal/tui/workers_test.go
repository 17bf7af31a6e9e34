package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// TestTaskWorkers (issue 16 row 6): a running pane with room past whole ids
// (a terminal 100 wide, stacked; 160 wide, beside the alerts) shows the
// worker of each running task, a long one cut with …; at 80×24 and 120×40
// there is no room, and the ids stay whole (enter shows the worker).
func TestTaskWorkers(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {100, 30}, {120, 40}, {160, 45}} {
		w, h := size[0], size[1]
		m := loaded(w, h, 62)
		v := m.View()
		checkFrame(t, v, w, h)
		wide := w == 100 || w == 160
		if w == 160 {
			golden(t, "workers_"+sizeName(w, h), v+"\n")
		}
		if got := strings.Contains(v, "WORKER"); got != wide {
			t.Errorf("%s: WORKER column shown %v, want %v:\n%s", sizeName(w, h), got, wide, v)
		}
		for _, id := range []string{"task_01jdq8a0b1c2d3e4f5g6h7j8k1", "task_01jdq8a0b1c2d3e4f5g6h7j8k2", "task_01jdq8a0b1c2d3e4f5g6h7j8k6"} {
			if !strings.Contains(v, id+" ") {
				t.Errorf("%s: id %s not whole:\n%s", sizeName(w, h), id, v)
			}
		}
		if !wide {
			continue
		}
		for _, l := range strings.Split(v, "\n") {
			switch {
			case strings.Contains(l, "task_01jdq8a0b1c2d3e4f5g6h7j8k1 "):
				if !strings.Contains(l, " w-build-01.") || !strings.Contains(l, "…") {
					t.Errorf("%s: the long worker is not shown cut: %q", sizeName(w, h), l)
				}
			case strings.Contains(l, "task_01jdq8a0b1c2d3e4f5g6h7j8k2 "):
				if !strings.Contains(l, " laptop-77-0c0ffee0") {
					t.Errorf("%s: the short worker is not shown: %q", sizeName(w, h), l)
				}
			case strings.Contains(l, "task_01jdq8a0b1c2d3e4f5g6h7j8k6 "), strings.Contains(l, "task_01jdq8a0b1c2d3e4f5g6h7j8k3 "):
				if strings.Contains(l, "w-build") || strings.Contains(l, "laptop") {
					t.Errorf("%s: a worker on a task that does not run: %q", sizeName(w, h), l)
				}
			}
		}
	}
	// Through the program: the reads of tasks ask the Source for workers.
	// (program waits for the first frame with the tasks.)
	fm := final(t, program(t, newFakeSource(), 160, 45))
	if v := fm.View(); fm.workers["task_01jdq8a0b1c2d3e4f5g6h7j8k1"] != "w-build-01.eu-west-1.internal-4242-9f3a2c1b" ||
		!strings.Contains(v, "laptop-77-0c0ffee0") || !strings.Contains(v, "w-build-01.eu-west-1.…") {
		t.Fatalf("workers = %v:\n%s", fm.workers, v)
	}
}

// TestClientSourceWorkers: the ClientSource learns a running task's worker
// from its last attempt (GET /v1/tasks/{id}) once per attempt, at most
// maxWorkerLookups reads a call, reads again when the attempt changes,
// forgets tasks that stopped running, and leaves out (and retries) a task
// it could not read.
func TestClientSourceWorkers(t *testing.T) {
	var mu sync.Mutex
	reads := map[string]int{}
	attempt := map[string]int{}
	failing := map[string]bool{"task_bad": true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/v1/tasks/")
		mu.Lock()
		reads[id]++
		n, fail := attempt[id], failing[id]
		mu.Unlock()
		if fail {
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.NewProblem(api.CodeNotFound, "no task"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.Task{ID: id, Status: api.TaskRunning, Attempt: n,
			Attempts: []api.Attempt{{Number: n, WorkerID: fmt.Sprintf("w-%s-%d", id, n), StartedAt: time.Now()}}})
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithRetry(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	src := &ClientSource{Client: c}
	var tasks []api.Task
	for i := range maxWorkerLookups + 2 {
		id := fmt.Sprintf("task_%d", i)
		attempt[id] = 1
		tasks = append(tasks, api.Task{ID: id, Status: api.TaskRunning, Attempt: 1})
	}
	tasks = append(tasks, api.Task{ID: "task_done", Status: api.TaskSucceeded, Attempt: 1})
	total := func() (n int) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range reads {
			n += r
		}
		return n
	}

	got := src.TaskWorkers(t.Context(), tasks)
	if len(got) != maxWorkerLookups || total() != maxWorkerLookups || got["task_0"] != "w-task_0-1" {
		t.Fatalf("first call: %d workers, %d reads: %v", len(got), total(), got)
	}
	got = src.TaskWorkers(t.Context(), tasks)
	if len(got) != len(tasks)-1 || total() != len(tasks)-1 || got["task_9"] != "w-task_9-1" || got["task_done"] != "" {
		t.Fatalf("second call: %d workers, %d reads: %v", len(got), total(), got)
	}
	if src.TaskWorkers(t.Context(), tasks); total() != len(tasks)-1 {
		t.Fatalf("a known attempt was read again: %d reads", total())
	}

	// task_0 runs its second attempt elsewhere; task_1 has ended; task_bad
	// cannot be read.
	mu.Lock()
	attempt["task_0"] = 2
	mu.Unlock()
	tasks[0].Attempt = 2
	tasks[1].Status = api.TaskSucceeded
	tasks = append(tasks, api.Task{ID: "task_bad", Status: api.TaskRunning, Attempt: 1})
	before := total()
	got = src.TaskWorkers(t.Context(), tasks)
	if got["task_0"] != "w-task_0-2" || got["task_1"] != "" || got["task_bad"] != "" || total() != before+2 {
		t.Fatalf("after changes: %v, %d new reads", got, total()-before)
	}
	if src.TaskWorkers(t.Context(), tasks); total() != before+3 {
		t.Fatalf("a task that failed to read is not tried again: %d new reads", total()-before)
	}
	tasks[1].Status = api.TaskRunning // task_1 runs again at the same attempt: forgotten, so read
	if src.TaskWorkers(t.Context(), tasks); total() != before+5 {
		t.Fatalf("a forgotten task is not read again: %d new reads", total()-before)
	}

	// A context already over reads nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before = total()
	if got := src.TaskWorkers(ctx, []api.Task{{ID: "task_new", Status: api.TaskRunning, Attempt: 1}}); len(got) != 0 || total() != before {
		t.Fatalf("cancelled: %v, %d reads", got, total()-before)
	}
	if errors.Is(ctx.Err(), context.Canceled) == false {
		t.Fatal("context not cancelled")
	}
}

// TestTasksPaneFillsTerminal (issue 16 row 6): with more tasks than fit,
// the running pane takes every line the other panes leave (no blank line
// between its last row and the queued/held pane), so 120×40 shows far more
// than 12 rows, and a taller terminal shows more still.
func TestTasksPaneFillsTerminal(t *testing.T) {
	var many []api.Task
	for i := range 60 {
		many = append(many, api.Task{ID: fmt.Sprintf("task_01jdq8a0b1c2d3e4f5g6h7%04d", i), Queue: "email", Status: api.TaskRunning,
			Attempt: 1, MaxAttempts: 3, CreatedAt: t0.Add(-time.Minute), StartedAt: ptr(t0.Add(-time.Minute))})
	}
	many = append(many, someTasks()[7:]...) // the two waiting tasks
	shown := map[int]int{}
	for _, size := range [][2]int{{80, 24}, {120, 40}, {120, 60}} {
		w, h := size[0], size[1]
		m := loaded(w, h, 62)
		m = send(m, tasksMsg{gen: m.gen, tasks: many})
		v := m.View()
		checkFrame(t, v, w, h)
		lines := strings.Split(v, "\n")
		start, end := -1, -1
		for i, l := range lines {
			if strings.Contains(l, "Running · 60 · 0 finished") {
				start = i
			}
			if strings.Contains(l, "Queued/held · 0") {
				end = i
			}
		}
		if start < 0 || end < start {
			t.Fatalf("%s: no running pane over a queued/held pane:\n%s", sizeName(w, h), v)
		}
		rows := 0
		for _, l := range lines[start+1 : end] { // the title line holds the column headers
			if !strings.Contains(l, "task_01jdq8a0b1c2d3e4f5g6h7") {
				t.Errorf("%s: a line of the running pane is not a task: %q\n%s", sizeName(w, h), l, v)
			}
			rows++
		}
		shown[h] = rows
	}
	t.Logf("task rows shown by terminal height: %v", shown)
	if shown[40] <= 12 || shown[60] <= shown[40] || shown[24] < 3 {
		t.Fatalf("rows shown by height: %v", shown)
	}
}

// TestFilterByWorker: `/` matches the worker of a running task too, so
// "what runs on laptop-77" is one filter away.
func TestFilterByWorker(t *testing.T) {
	m := loaded(160, 45, 62)
	m.filter = "LAPTOP-77"
	got := m.paneTasks(paneRunning)
	if len(got) != 1 || got[0].ID != "task_01jdq8a0b1c2d3e4f5g6h7j8k2" {
		t.Fatalf("filter by worker: %v", got)
	}
}
