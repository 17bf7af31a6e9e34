package tasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// job is the input the fake worker understands.
type job struct {
	Lines  []string        `json:"lines,omitempty"`    // log lines, appended one request each
	Pause  int             `json:"pause_ms,omitempty"` // between log lines
	Output json.RawMessage `json:"output,omitempty"`
	Fail   string          `json:"fail,omitempty"` // fail the attempt, not retryable
	Hang   bool            `json:"hang,omitempty"` // heartbeat until told to stop
	Cost   int64           `json:"cost_micros,omitempty"`
	Tokens []string        `json:"tokens,omitempty"` // after the lines: streamed on channel tokens, one request each
}

// startWorker runs a fake worker on queue with pkg/client in a goroutine
// until the test ends: it claims tasks and does what their input (a job)
// says. It returns the attempts it ran, by task id.
func startWorker(t *testing.T, e *clitest.Env, key, queue string) *sync.Map {
	t.Helper()
	c, err := client.New(e.URL, client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	var ran sync.Map
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			resp, err := c.ClaimTasks(ctx, api.ClaimRequest{Queues: []string{queue}, WorkerID: "fake-" + queue, WaitSeconds: 1, MaxTasks: 1})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("claim: %v", err)
					pause(ctx, 100*time.Millisecond)
				}
				continue
			}
			for _, task := range resp.Tasks {
				n, _ := ran.LoadOrStore(task.ID, new(int))
				*n.(*int)++
				if err := work(ctx, c, task); err != nil && ctx.Err() == nil {
					t.Errorf("task %s: %v", task.ID, err)
				}
			}
		}
	}()
	return &ran
}

func work(ctx context.Context, c *client.Client, task api.Task) error {
	var j job
	if err := json.Unmarshal(task.Input, &j); err != nil {
		return err
	}
	for _, l := range j.Lines {
		if err := c.AppendLogs(ctx, task.WorkspaceID, task.ID, api.LogsRequest{Attempt: task.Attempt, Lines: []string{l}}); err != nil {
			return err
		}
		pause(ctx, time.Duration(j.Pause)*time.Millisecond) // the fake agent's own pace
	}
	for _, tok := range j.Tokens {
		if err := c.AppendLogs(ctx, task.WorkspaceID, task.ID, api.LogsRequest{Attempt: task.Attempt, Lines: []string{tok},
			Stream: true, Channel: "tokens"}); err != nil {
			return err
		}
	}
	usage := &api.UsageReport{CostMicros: j.Cost}
	switch {
	case j.Hang:
		for ctx.Err() == nil {
			hb, err := c.Heartbeat(ctx, task.WorkspaceID, task.ID, api.HeartbeatRequest{Attempt: task.Attempt})
			if err != nil || hb.Cancel {
				return nil // told to stop: the attempt is not reported
			}
			pause(ctx, 100*time.Millisecond) // a heartbeat interval
		}
		return nil
	case j.Fail != "":
		_, err := c.FailTask(ctx, task.WorkspaceID, task.ID, api.FailRequest{Attempt: task.Attempt, Error: j.Fail, Usage: usage})
		return err
	}
	out := j.Output
	if out == nil {
		out = json.RawMessage(`null`)
	}
	_, err := c.CompleteTask(ctx, task.WorkspaceID, task.ID, api.CompleteRequest{Attempt: task.Attempt, Output: out, Usage: usage})
	return err
}

// compact is raw as compact JSON (-o json indents nested documents).
func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

func input(t *testing.T, j job) string {
	t.Helper()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSubmitWaitExitCodes: submit --wait against the real server and a
// worker ends with the task's code and prints the finished task.
func TestSubmitWaitExitCodes(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	startWorker(t, e, owner, "default")

	r := e.RunAs(owner, "tasks", "submit", "--input", input(t, job{Lines: []string{"thinking", "done"}, Output: json.RawMessage(`{"answer":42}`), Cost: 3100}),
		"--label", "env=prod", "--wait", "-o", "json").Want(t, 0)
	ok := clitest.JSON[api.Task](t, r)
	if ok.Status != api.TaskSucceeded || compact(ok.Output) != `{"answer":42}` || ok.Usage.CostMicros != 3100 || len(ok.Attempts) != 1 || ok.Labels["env"] != "prod" {
		t.Fatalf("finished task = %+v", ok)
	}
	for _, want := range []string{"idempotency key: cli-", "Submitted task " + ok.ID, "==> running (attempt 1)", "[1] thinking\n[1] done\n", "==> succeeded (attempt 1)"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}

	r = e.RunAs(owner, "tasks", "submit", "--input", input(t, job{Fail: "bad input"}), "--max-attempts", "1", "--wait").Want(t, 10)
	if !strings.Contains(r.Stdout, "status\tfailed\n") || !strings.Contains(r.Stdout, "error\tbad input\n") || !strings.Contains(r.Stderr, "failed: bad input") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}

	// The server stops a task past its --timeout: timed_out, exit 12.
	r = e.RunAs(owner, "tasks", "submit", "--input", input(t, job{Hang: true}), "--run-timeout", "1s", "--wait", "-q", "-o", "json").Want(t, 12)
	if got := clitest.JSON[api.Task](t, r); got.Status != api.TaskTimedOut || r.Stderr != "" {
		t.Fatalf("task %+v, stderr %q", got, r.Stderr)
	}

	// get, list and wait of a finished task agree.
	g := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "get", ok.ID, "-o", "json").Want(t, 0))
	if g.ID != ok.ID || g.Status != api.TaskSucceeded || len(g.Attempts) != 1 || g.Attempts[0].WorkerID != "fake-default" {
		t.Fatalf("get = %+v", g)
	}
	e.RunAs(owner, "tasks", "wait", ok.ID, "-q").Want(t, 0)
	list := clitest.JSON[[]api.Task](t, e.RunAs(owner, "tasks", "list", "--status", "succeeded", "--label", "env=prod", "-o", "json").Want(t, 0))
	if len(list) != 1 || list[0].ID != ok.ID {
		t.Fatalf("list = %+v", list)
	}
	all := clitest.JSON[[]api.Task](t, e.RunAs(owner, "tasks", "list", "--all", "--limit", "1", "-o", "json").Want(t, 0))
	if len(all) != 3 || all[0].Status != api.TaskTimedOut || all[2].ID != ok.ID {
		t.Fatalf("list --all: %d tasks, %+v", len(all), all)
	}
}

// TestIdempotentSubmit: the same --idempotency-key and parameters return
// the same task; other parameters with that key are a conflict (exit 1).
func TestIdempotentSubmit(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	args := []string{"tasks", "submit", "--queue", "idem", "--input", `{"n": 1}`, "--idempotency-key", "retry-me", "-o", "json"}
	a := clitest.JSON[api.Task](t, e.RunAs(owner, args...).Want(t, 0))
	b := clitest.JSON[api.Task](t, e.RunAs(owner, args...).Want(t, 0))
	if a.ID == "" || a.ID != b.ID || a.Status != api.TaskQueued {
		t.Fatalf("first %+v, second %+v", a, b)
	}
	// Whitespace does not make other parameters: the input is compacted.
	c := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "submit", "--queue", "idem", "--input", "{ \"n\" :1 }", "--idempotency-key", "retry-me", "-o", "json").Want(t, 0))
	if c.ID != a.ID {
		t.Fatalf("reformatted input made task %s, want %s", c.ID, a.ID)
	}
	r := e.RunAs(owner, "tasks", "submit", "--queue", "idem", "--input", `{"n": 2}`, "--idempotency-key", "retry-me").Want(t, 1)
	if r.Stdout != "" || !strings.HasPrefix(r.Stderr, "error: ") {
		t.Fatalf("stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
	if list := clitest.JSON[[]api.Task](t, e.RunAs(owner, "tasks", "list", "-o", "json").Want(t, 0)); len(list) != 1 {
		t.Fatalf("%d tasks, want 1", len(list))
	}
}

// TestLogsFollow: logs -f prints every line of a task that is writing them
// once, in order, then exits 0 when the task ends, whatever its status.
func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	var lines []string
	for i := range 40 {
		lines = append(lines, fmt.Sprintf("line %02d", i))
	}
	task := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "submit", "--input", input(t, job{Lines: lines, Pause: 20, Fail: "gave up"}),
		"--max-attempts", "1", "-o", "json").Want(t, 0))
	startWorker(t, e, owner, "default")

	r := e.RunAs(owner, "tasks", "logs", task.ID, "-f").Want(t, 0)
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n") {
		if s, ok := strings.CutPrefix(l, "[1] "); ok {
			got = append(got, s)
		}
	}
	if strings.Join(got, "\n") != strings.Join(lines, "\n") {
		t.Fatalf("log lines:\n%s", r.Stdout)
	}
	if !strings.HasPrefix(r.Stdout, "==> queued\n") || !strings.HasSuffix(r.Stdout, "==> failed (attempt 1): gave up\n") {
		t.Fatalf("state lines:\n%s", r.Stdout)
	}
	// Without -f: the same events; -o jsonl: one per line.
	e.RunAs(owner, "tasks", "logs", task.ID).Want(t, 0)
	if again := e.RunAs(owner, "tasks", "logs", task.ID).Want(t, 0); again.Stdout != r.Stdout {
		t.Fatalf("logs:\n%s\nlogs -f:\n%s", again.Stdout, r.Stdout)
	}
	jl := e.RunAs(owner, "tasks", "logs", task.ID, "-f", "-o", "jsonl").Want(t, 0)
	if n := strings.Count(jl.Stdout, "\n"); n != len(lines)+3 {
		t.Fatalf("jsonl: %d lines\n%s", n, jl.Stdout)
	}
}

// TestLogsStreams: the lines an agent streams print with their channel
// between its log lines, followed or not, and JSON says their type and
// channel.
func TestLogsStreams(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	task := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "submit", "--input",
		input(t, job{Lines: []string{"thinking"}, Tokens: []string{"fan", "out"}}), "-o", "json").Want(t, 0))
	startWorker(t, e, owner, "default")
	r := e.RunAs(owner, "tasks", "logs", task.ID, "-f").Want(t, 0)
	if !strings.Contains(r.Stdout, "(attempt 1): claimed by fake-default\n[1] thinking\n[tokens] fan\n[tokens] out\n==> succeeded (attempt 1)\n") {
		t.Fatalf("logs -f:\n%s", r.Stdout)
	}
	if again := e.RunAs(owner, "tasks", "logs", task.ID).Want(t, 0); again.Stdout != r.Stdout {
		t.Fatalf("logs:\n%s\nlogs -f:\n%s", again.Stdout, r.Stdout)
	}
	var streamed []string
	for _, ev := range clitest.JSON[[]api.TaskEvent](t, e.RunAs(owner, "tasks", "logs", task.ID, "-o", "json").Want(t, 0)) {
		if ev.Type == api.EventStream {
			streamed = append(streamed, ev.Channel+":"+ev.Message)
		}
	}
	if strings.Join(streamed, ",") != "tokens:fan,tokens:out" {
		t.Fatalf("stream events %q, want tokens:fan, tokens:out", streamed)
	}
}

// TestCancelQueued: cancelling a queued task makes a running `tasks wait`
// exit 11; a second cancel is the server's conflict (exit 1).
func TestCancelQueued(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	task := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "submit", "--queue", "nobody", "-o", "json").Want(t, 0))

	c, err := client.New(e.URL, client.WithAPIKey(owner))
	if err != nil {
		t.Fatal(err)
	}
	before := apiCalls(t, c)
	waited := make(chan clitest.Result, 1)
	go func() { waited <- e.RunAs(owner, "tasks", "wait", task.ID, "-o", "json") }()
	// The wait follows once it has read the task (queued) and opened its
	// event stream: two calls of the workspace besides these reads.
	reads := int64(0)
	testutil.Eventually(t, 10*time.Second, "tasks wait follows the task", func() bool {
		reads++ // this read of the usage counts itself
		return apiCalls(t, c)-before-reads >= 2
	})

	r := e.RunAs(owner, "tasks", "cancel", task.ID).Want(t, 0)
	if !strings.Contains(r.Stdout, "status\tcancelled\n") || !strings.Contains(r.Stderr, "Cancelled task "+task.ID) {
		t.Fatalf("cancel: stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
	var w clitest.Result
	select {
	case w = <-waited:
	case <-time.After(30 * time.Second):
		t.Fatal("tasks wait did not end after the cancel")
	}
	w.Want(t, 11)
	if got := clitest.JSON[api.Task](t, w); got.Status != api.TaskCancelled || got.ID != task.ID {
		t.Fatalf("wait printed %+v", got)
	}
	e.RunAs(owner, "tasks", "wait", task.ID).Want(t, 11)

	r = e.RunAs(owner, "tasks", "cancel", task.ID).Want(t, 1)
	if r.Stdout != "" || !strings.HasPrefix(r.Stderr, "error: ") {
		t.Fatalf("second cancel: stdout %q, stderr %q", r.Stdout, r.Stderr)
	}
}

// apiCalls is the workspace's API calls in the last minute, this read
// included: the quota's api rate gauge, which the server counts as each
// request starts (a stream counts while it is open).
func apiCalls(t *testing.T, c *client.Client) int64 {
	t.Helper()
	q, err := c.Quota(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, ok := q.Metric(api.QuotaAPIRate)
	if !ok {
		t.Fatalf("quota has no %s gauge: %+v", api.QuotaAPIRate, q.Metrics)
	}
	return m.Used
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	const id = "task_01jdzzzzzzzzzzzzzzzzzzzzzz"
	for _, verb := range []string{"get", "cancel", "wait", "logs"} {
		if r := e.RunAs(owner, "tasks", verb, id).Want(t, 3); r.Stdout != "" {
			t.Errorf("%s: stdout %q", verb, r.Stdout)
		}
	}
	e.RunAs(owner, "tasks", "logs", "-f", id).Want(t, 3)
	// Another workspace's task is not found either.
	task := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "submit", "-o", "json").Want(t, 0))
	_, other := e.NewTenant(t, "beta")
	e.RunAs(other, "tasks", "get", task.ID).Want(t, 3)
}

// TestWaitTimeoutE2E: --wait-timeout ends the wait of a task nobody runs
// with exit 7 and leaves it queued; the global --timeout, shorter, bounds
// each request only and does not end the wait (issue 16 row 7). Not
// parallel: see TestWaitTimeout.
func TestWaitTimeoutE2E(t *testing.T) {
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	task := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "submit", "--queue", "nobody", "-o", "json").Want(t, 0))
	const request, wait = 200 * time.Millisecond, time.Second
	start := time.Now()
	r := e.RunAs(owner, "tasks", "wait", task.ID, "--timeout", request.String(), "--wait-timeout", wait.String()).Want(t, 7)
	if !strings.Contains(r.Stderr, "timed out waiting for task "+task.ID) || strings.Contains(r.Stderr, "no answer within") {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	if el := time.Since(start); el < wait {
		t.Fatalf("the wait ended after %s: --timeout %s cut it before --wait-timeout %s", el, request, wait)
	}
	e.RunAs(owner, "tasks", "submit", "--queue", "nobody", "--wait", "--wait-timeout", "500ms").Want(t, 7)
	if got := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "get", task.ID, "-o", "json").Want(t, 0)); got.Status != api.TaskQueued {
		t.Fatalf("status %s after the wait", got.Status)
	}
}

func TestCompleteIDs(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	task := clitest.JSON[api.Task](t, e.RunAs(owner, "tasks", "submit", "--queue", "nobody", "-o", "json").Want(t, 0))
	if r := e.RunAs(owner, "__complete", "tasks", "wait", ""); !strings.Contains(r.Stdout, task.ID+"\tqueued (nobody)\n") {
		t.Fatalf("wait: %q", r.Stdout)
	}
	e.RunAs(owner, "tasks", "cancel", task.ID, "-q").Want(t, 0)
	if r := e.RunAs(owner, "__complete", "tasks", "cancel", ""); strings.Contains(r.Stdout, task.ID) {
		t.Fatalf("cancel offers a cancelled task: %q", r.Stdout)
	}
	if r := e.RunAs(owner, "__complete", "tasks", "logs", ""); !strings.Contains(r.Stdout, task.ID+"\tcancelled (nobody)\n") {
		t.Fatalf("logs: %q", r.Stdout)
	}
}

// pause is the fake agent's pace: d, or less if ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
