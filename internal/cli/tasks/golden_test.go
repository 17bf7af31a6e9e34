package tasks_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

const (
	day = 24 * time.Hour
	ws  = "ws_01jd0000000000000000000001"
)

func ptr[T any](v T) *T { return &v }

// stubTasks are fixed tasks, one of each status, with times relative to now
// so that relative times and running durations stay the same however long
// the test takes (as long as it takes less than a minute).
func stubTasks() []api.Task {
	created := clitest.At(-3*time.Hour - 5*time.Minute)
	started := created.Add(30 * time.Second)
	twoDays, longAgo := clitest.At(-2*day), clitest.At(-400*day)
	long := `{"summary":"` + strings.Repeat("All good. ", 30) + `","n":[1,2,3]}`
	return []api.Task{
		{ID: "task_01jd0000000000000000000001", WorkspaceID: ws, Queue: "default", Status: api.TaskSucceeded,
			Input: json.RawMessage(`{"prompt":"Summarise the report"}`), Output: json.RawMessage(long),
			Labels: map[string]string{"team": "agents", "env": "prod"}, Attempt: 2, MaxAttempts: 3, TimeoutSeconds: 600,
			CreatedAt: created, StartedAt: &started, FinishedAt: ptr(started.Add(90*time.Second + 400*time.Millisecond)),
			RunAt: created, Usage: api.TaskUsage{ExecutionMS: 84_250, Tokens: 1200, CostMicros: 3_590},
			Attempts: []api.Attempt{
				{Number: 1, WorkerID: "w-1", Status: api.TaskFailed, Error: "exit status 1", StartedAt: started,
					FinishedAt: ptr(started.Add(4200 * time.Millisecond)), Usage: api.TaskUsage{ExecutionMS: 4_200, CostMicros: 490}},
				{Number: 2, WorkerID: "w-2", Status: api.TaskSucceeded, StartedAt: started.Add(10 * time.Second),
					FinishedAt: ptr(started.Add(90*time.Second + 400*time.Millisecond)), Usage: api.TaskUsage{ExecutionMS: 80_050, Tokens: 1200, CostMicros: 3_100}},
			}},
		{ID: "task_01jd0000000000000000000002", WorkspaceID: ws, Queue: "email", Status: api.TaskRunning, Priority: 5,
			Input: json.RawMessage(`{}`), Attempt: 1, MaxAttempts: 3, CreatedAt: clitest.At(-2*time.Hour - 11*time.Minute),
			StartedAt: ptr(clitest.At(-2*time.Hour - 10*time.Minute)), Usage: api.TaskUsage{ExecutionMS: 7_795_000, CostMicros: 1_250_000}},
		{ID: "task_01jd0000000000000000000003", WorkspaceID: ws, Queue: "default", Status: api.TaskQueued, Priority: -1,
			Input: json.RawMessage(`{}`), MaxAttempts: 1, StatusReason: "held: monthly quota used up", CreatedAt: clitest.At(-5*time.Minute - 30*time.Second)},
		{ID: "task_01jd0000000000000000000004", WorkspaceID: ws, Queue: "default", Status: api.TaskFailed,
			Input: json.RawMessage(`{}`), Error: "agent crashed:\nTraceback (most recent call last)", Attempt: 3, MaxAttempts: 3,
			CreatedAt: twoDays, StartedAt: &twoDays, FinishedAt: ptr(twoDays.Add(350 * time.Millisecond))},
		{ID: "task_01jd0000000000000000000005", WorkspaceID: ws, Queue: "default", Status: api.TaskCancelled, MaxAttempts: 3,
			Input: json.RawMessage(`{}`), StatusReason: "cancelled by user", CreatedAt: clitest.At(-40 * day), FinishedAt: ptr(clitest.At(-40*day + 2*time.Minute))},
		{ID: "task_01jd0000000000000000000006", WorkspaceID: ws, Queue: "slow", Status: api.TaskTimedOut, Attempt: 1, MaxAttempts: 3,
			Input: json.RawMessage(`{}`), TimeoutSeconds: 300, CreatedAt: longAgo, StartedAt: &longAgo,
			FinishedAt: ptr(longAgo.Add(5*time.Minute + 2*time.Second)), Usage: api.TaskUsage{ExecutionMS: 302_000, CostMicros: 123_456_789}},
	}
}

func stub(t *testing.T) *clitest.Env {
	tasks := stubTasks()
	submitted := api.Task{ID: "task_01jd0000000000000000000007", WorkspaceID: ws, Queue: "email", Status: api.TaskQueued, Priority: 2,
		Input: json.RawMessage(`{"prompt":"hi"}`), Labels: map[string]string{"env": "prod"}, MaxAttempts: 2, TimeoutSeconds: 5400,
		CreatedAt: clitest.At(-time.Second), RunAt: clitest.At(-time.Second), IdempotencyKey: "golden-1"}
	list := make([]api.Task, len(tasks))
	for i, x := range tasks {
		x.Attempts = nil // lists carry no attempts
		list[i] = x
	}
	next := "c2"
	return clitest.NewStub(t, clitest.Routes{
		"GET /v1/tasks":      api.List[api.Task]{Data: list, NextCursor: &next},
		"GET /v1/tasks/{id}": tasks[0],
		"POST /v1/tasks":     clitest.Reply{Status: 201, Body: submitted},
	}.Shared())
}

func TestGolden(t *testing.T) {
	t.Parallel()
	e := stub(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"list", []string{"tasks", "list"}},
		{"get", []string{"tasks", "get", "task_01jd0000000000000000000001"}},
		{"submit", []string{"tasks", "submit", "--queue", "email", "--input", `{"prompt": "hi"}`, "--priority", "2",
			"--run-timeout", "90m", "--max-attempts", "2", "--label", "env=prod", "--idempotency-key", "golden-1"}},
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
}

// TestSubmitMakesIdempotencyKey: without --idempotency-key a random key is
// sent and printed on stderr (not with -q), the same one each retry.
func TestSubmitMakesIdempotencyKey(t *testing.T) {
	t.Parallel()
	var got []string
	e := clitest.NewStub(t, clitest.Routes{"POST /v1/tasks": recordKeys(&got, stubTasks()[2])})
	r := e.Run("tasks", "submit", "--input", "{}").Want(t, 0)
	m := regexp.MustCompile(`(?m)^idempotency key: (cli-[0-9a-f]{24})$`).FindStringSubmatch(r.Stderr)
	if m == nil || len(got) != 1 || got[0] != m[1] {
		t.Fatalf("stderr %q, keys sent %q", r.Stderr, got)
	}
	r = e.Run("tasks", "submit", "-q", "--input", "{}").Want(t, 0)
	if r.Stderr != "" || len(got) != 2 || got[1] == got[0] || !strings.HasPrefix(got[1], "cli-") {
		t.Fatalf("-q: stderr %q, keys sent %q", r.Stderr, got)
	}
	r = e.Run("tasks", "submit", "--idempotency-key", "mine").Want(t, 0)
	if strings.Contains(r.Stderr, "idempotency key") || got[2] != "mine" {
		t.Fatalf("given key: stderr %q, keys sent %q", r.Stderr, got)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	e := stub(t)
	for _, args := range [][]string{
		{"tasks"},
		{"tasks", "submit", "--input", "[1]"},
		{"tasks", "submit", "--input", "-"}, // empty stdin
		{"tasks", "submit", "--priority", "high"},
		{"tasks", "submit", "--bogus"},
		{"tasks", "submit", "--label", "nokey"},
		{"tasks", "list", "--status", "done"},
		{"tasks", "get"},
		{"tasks", "logs", "a", "b"},
	} {
		r := e.Run(args...)
		if r.Code != 2 || r.Stdout != "" {
			t.Errorf("%v: exit %d, want 2\nstdout %q\nstderr %s", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	// A refused status names the valid ones.
	r := e.Run("tasks", "list", "--status", "done").Want(t, 2)
	if !strings.Contains(r.Stderr, "queued, running, waiting, succeeded, failed, cancelled, timed_out, terminated") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	e := stub(t)
	r := e.Run("__complete", "tasks", "get", "").Want(t, 0)
	if strings.Count(r.Stdout, "task_") != 6 || !strings.Contains(r.Stdout, "task_01jd0000000000000000000002\trunning (email)\n") {
		t.Fatalf("get: %q", r.Stdout)
	}
	// cancel offers only tasks that can still be cancelled.
	r = e.Run("__complete", "tasks", "cancel", "").Want(t, 0)
	if strings.Count(r.Stdout, "task_") != 2 || !strings.Contains(r.Stdout, "task_01jd0000000000000000000003\tqueued (default)\n") {
		t.Fatalf("cancel: %q", r.Stdout)
	}
	r = e.Run("__complete", "tasks", "list", "--status", "").Want(t, 0)
	if !strings.HasPrefix(r.Stdout, strings.Join(api.TaskStatuses, "\n")+"\n:4\n") {
		t.Fatalf("--status: %q", r.Stdout)
	}
}

// TestWidths: every table of `baton tasks` at 80 and 120 columns, with its
// ids whole (issue 16 row 1).
func TestWidths(t *testing.T) {
	t.Parallel()
	e := stub(t)
	e.GoldenWidths(t, "tasks_list", "tasks", "list")
	e.GoldenWidths(t, "tasks_get", "tasks", "get", "task_01jd0000000000000000000001")
}
