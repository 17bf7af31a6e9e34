package tasks_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

func stubSteps() []api.Step {
	start := clitest.At(-10 * time.Minute)
	wake := clitest.At(2 * time.Hour)
	return []api.Step{
		{Key: "fetch", Kind: api.StepRun, Status: api.StepSucceeded, Attempts: 1, Output: json.RawMessage(`{"pages":3}`),
			Usage: api.TaskUsage{ExecutionMS: 2_500, Tokens: 1200, CostMicros: 31_000}, StartedAt: start, FinishedAt: ptr(start.Add(2500 * time.Millisecond))},
		{Key: "summarise", Kind: api.StepRun, Status: api.StepSucceeded, Attempts: 2, Output: json.RawMessage(`"ok"`),
			Usage: api.TaskUsage{ExecutionMS: 41_000, Tokens: 5400, CostMicros: 120_500}, StartedAt: start.Add(time.Minute), FinishedAt: ptr(start.Add(time.Minute + 41*time.Second))},
		{Key: "approve", Kind: api.StepWait, Status: api.StepWaiting, Output: json.RawMessage(`null`),
			Wait: &api.StepWaitFor{Reason: api.WaitSignal, Signal: "approve", WakeAt: &wake}, StartedAt: start.Add(2 * time.Minute)},
	}
}

func stepStub(t *testing.T, sent *[]string) *clitest.Env {
	task := stubTasks()[0]
	task.Status, task.FinishedAt, task.StatusReason, task.MaxCostMicros = api.TaskQueued, nil, "retry from step summarise", 500_000
	task.Attempts = nil
	var mu sync.Mutex
	record := func(reply any, status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			*sent = append(*sent, r.Method+" "+r.URL.EscapedPath()+" "+string(b)+" "+r.Header.Get(api.HeaderIdempotencyKey))
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(reply)
		}
	}
	sig := api.Signal{ID: "sig_01", TaskID: task.ID, Name: "approve", Data: json.RawMessage(`{"ok":true}`), CreatedAt: clitest.At(-time.Second)}
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/tasks/{id}/steps":           api.StepList{Data: stubSteps()},
		"POST /v1/tasks/{id}/signals/{name}": record(sig, 201),
		"POST /v1/tasks/{id}/retry":          record(task, 200),
		"PATCH /v1/tasks/{id}":               record(task, 200),
	}.Shared())
}

// TestStepsWidths: the steps table at 80 and 120 columns (issue 16 row 1).
func TestStepsWidths(t *testing.T) {
	t.Parallel()
	var sent []string
	stepStub(t, &sent).GoldenWidths(t, "tasks_steps", "tasks", "steps", "task_01jd0000000000000000000001")
}

func TestStepsGolden(t *testing.T) {
	t.Parallel()
	var sent []string
	e := stepStub(t, &sent)
	id := "task_01jd0000000000000000000001"
	for _, c := range []struct {
		name string
		args []string
	}{
		{"steps", []string{"tasks", "steps", id}},
		{"signal", []string{"tasks", "signal", id, "approve", "--data", `{"ok": true}`, "--idempotency-key", "k1"}},
		{"retry", []string{"tasks", "retry", id, "--from-step", "summarise"}},
		{"update", []string{"tasks", "update", id, "--max-cost-usd", "0.50", "--priority", "3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tty := e.TTY(c.args...).Want(t, 0)
			clitest.Golden(t, c.name+"_tty", tty.Stdout+"--- stderr\n"+clitest.Normalize(tty.Stderr))
			piped := e.Run(c.args...).Want(t, 0)
			clitest.Golden(t, c.name+"_piped", clitest.Normalize(piped.Stdout))
			js := e.Run(append(c.args, "-o", "json")...).Want(t, 0)
			clitest.Golden(t, c.name+"_json", clitest.Normalize(js.Stdout))
		})
	}
	want := map[string]bool{
		"POST /v1/tasks/" + id + `/signals/approve {"data":{"ok":true}} k1`:   true,
		"POST /v1/tasks/" + id + `/retry {"from_step":"summarise"} `:          true,
		"PATCH /v1/tasks/" + id + ` {"max_cost_micros":500000,"priority":3} `: true,
	}
	for _, s := range sent {
		if !want[s] {
			t.Errorf("unexpected request %q", s)
		}
	}
}

func TestStepsUsageErrors(t *testing.T) {
	t.Parallel()
	var sent []string
	e := stepStub(t, &sent)
	for _, args := range [][]string{
		{"tasks", "steps"},
		{"tasks", "signal", "task_1"},
		{"tasks", "signal", "task_1", "go", "--data", "{nope"},
		{"tasks", "update", "task_1"},
		{"tasks", "update", "task_1", "--max-cost-usd", "lots"},
		{"tasks", "update", "task_1", "--max-cost-usd", "-1"},
		{"tasks", "submit", "--max-cost-usd", "x"},
		{"tasks", "retry"},
	} {
		r := e.Run(args...)
		if r.Code != 2 || r.Stdout != "" {
			t.Errorf("%v: exit %d, want 2\nstdout %q\nstderr %s", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	if len(sent) != 0 {
		t.Errorf("usage errors sent requests: %q", sent)
	}
	if r := e.Run("tasks", "update", "task_1", "--max-cost-usd", "lots"); !strings.Contains(r.Stderr, "USD") {
		t.Errorf("stderr: %s", r.Stderr)
	}
}

// A conflict (a finished task takes no signal) exits 1; an absent task 3.
func TestStepsExitCodes(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, clitest.Routes{
		"POST /v1/tasks/{id}/signals/{name}": clitest.Reply{Status: 409, Body: api.NewProblem(api.CodeConflict, "task has ended")},
		"GET /v1/tasks/{id}/steps":           clitest.Reply{Status: 404, Body: api.NewProblem(api.CodeNotFound, "task x not found")},
	})
	e.Run("tasks", "signal", "task_1", "go").Want(t, 1)
	e.Run("tasks", "steps", "task_1").Want(t, 3)
}
