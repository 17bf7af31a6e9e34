package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// Durable steps through real processes (issue 14): a server, and per
// language a tenant with `baton worker run --concurrency 1` running the
// agent of steps_agents_test.go. For each of the shell, Python and Go
// agents:
//
//   - crash: kill -9 of the agent inside step two; the next attempt replays
//     step one (its side effect happened once) and runs step two again;
//     then the task waits for signal approve without holding the worker's
//     one slot (the other tasks run meanwhile, its execution time stays
//     put), a signal from another workspace is a 404, and the signal wakes
//     it to finish;
//   - budget: $0.05 and steps of $0.03 each: the third never begins, the
//     task waits (budget); `baton tasks update --max-cost-usd 0.50` resumes
//     it at the third step without running the first two again;
//   - sleep: 2 s in place and 11 s as a wait of the task;
//   - fanout: three children spawned, a fourth joined.
func testSteps(t *testing.T, pgURL string) {
	cl := newCluster(t, pgURL)
	addr := freePort(t)
	cl.server("server", addr)
	agents := stepAgents(t, cl.bin)
	other, _ := cl.tenant(addr, "bystander")
	type lang struct {
		c   *client.Client
		key string
	}
	langs := map[string]lang{}
	for name, cmd := range agents {
		c, key := cl.tenant(addr, "steps-"+name)
		cl.worker("worker-"+name, addr, key, 1, cmd)
		langs[name] = lang{c, key}
	}
	if _, ok := agents["python"]; !ok {
		t.Log("python3 is not installed: the Python agent is not tested")
	}
	for _, name := range []string{"shell", "python", "go"} {
		l, ok := langs[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := &stepScenario{t: t, cl: cl, addr: addr, c: l.c, key: l.key, other: other, dir: t.TempDir()}
			s.run()
		})
	}
}

// TestStepsSQLite is the scenario on SQLite.
func TestStepsSQLite(t *testing.T) { testSteps(t, "") }

// TestStepsPostgres is the same on PostgreSQL.
func TestStepsPostgres(t *testing.T) { testSteps(t, postgresOrSkip(t)) }

// postgresOrSkip is BATON_TEST_POSTGRES_URL; the test is skipped without it.
func postgresOrSkip(t *testing.T) string {
	url := os.Getenv("BATON_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("BATON_TEST_POSTGRES_URL not set")
	}
	return url
}

type stepScenario struct {
	t        *testing.T
	cl       *cluster
	addr     string
	c, other *client.Client
	key      string
	dir      string
}

// submit submits the agent in mode, with its own effects directory.
func (s *stepScenario) submit(mode string, maxCost int64) (id, dir string) {
	return s.submitN(mode, 0, maxCost)
}

// submitN is submit with the input's n.
func (s *stepScenario) submitN(mode string, n int, maxCost int64) (id, dir string) {
	s.t.Helper()
	dir = filepath.Join(s.dir, mode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	in, _ := json.Marshal(stepInput{Mode: mode, Dir: dir, N: n})
	task, err := s.c.SubmitTask(context.Background(), api.SubmitTaskRequest{Input: in, MaxAttempts: 5, MaxCostMicros: maxCost}, "")
	if err != nil {
		s.t.Fatalf("submit %s: %v", mode, err)
	}
	return task.ID, dir
}

func (s *stepScenario) get(id string) api.Task {
	s.t.Helper()
	task, err := s.c.GetTask(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	return task
}

// until waits for task id to reach status (and a reason starting with
// reason), failing at once if it ends otherwise.
func (s *stepScenario) until(id, status, reason string, d time.Duration) api.Task {
	s.t.Helper()
	var task api.Task
	testutil.Eventually(s.t, d, fmt.Sprintf("task %s to be %s (%s)", id, status, reason), func() bool {
		task = s.get(id)
		if api.IsTerminal(task.Status) && task.Status != status {
			s.t.Fatalf("task %s ended %s: %s %s", id, task.Status, task.StatusReason, task.Error)
		}
		return task.Status == status && strings.HasPrefix(task.StatusReason, reason)
	})
	return task
}

// agentPid waits for the agent to write its pid to dir/pid (it is then
// blocked in a step) and for ready, and returns the pid.
func agentPid(t *testing.T, dir, what string, ready func() bool) int {
	t.Helper()
	var pid int
	testutil.Eventually(t, 60*time.Second, what, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "pid"))
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0 && (ready == nil || ready())
	})
	return pid
}

// goStepCluster is a server and a tenant whose one-slot worker runs the Go
// agent.
type goStepCluster struct {
	*cluster
	addr, key, agent string
	srv, work        *proc
	s                *stepScenario
}

func newGoStepCluster(t *testing.T, pgURL, tenant string) *goStepCluster {
	g := &goStepCluster{cluster: newCluster(t, pgURL), addr: freePort(t)}
	g.srv = g.server("server-1", g.addr)
	var c *client.Client
	c, g.key = g.tenant(g.addr, tenant)
	g.agent = stepAgents(t, g.bin)["go"]
	g.work = g.worker("worker-1", g.addr, g.key, 1, g.agent)
	g.s = &stepScenario{t: t, cl: g.cluster, addr: g.addr, c: c, key: g.key, dir: t.TempDir()}
	return g
}

// baton runs a CLI command as the tenant.
func (s *stepScenario) baton(args ...string) {
	s.t.Helper()
	cmd := s.cl.command(args...)
	cmd.Env = append(cmd.Env, "BATON_SERVER=http://"+s.addr, "BATON_API_KEY="+s.key)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("baton %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// effects reads a mode's side effects: step key → the attempts it ran in.
func effects(t *testing.T, dir string) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	f, err := os.Open(filepath.Join(dir, "effects"))
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, n, ok := strings.Cut(sc.Text(), " ")
		a, err := strconv.Atoi(n)
		if !ok || err != nil {
			t.Fatalf("bad effects line %q", sc.Text())
		}
		out[key] = append(out[key], a)
	}
	return out
}

// ranOnce fails unless each key ran exactly once.
func ranOnce(t *testing.T, got map[string][]int, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if len(got[k]) != 1 {
			t.Fatalf("step %s ran in attempts %v, want exactly once (effects %v)", k, got[k], got)
		}
	}
}

func (s *stepScenario) steps(id string) map[string]api.Step {
	s.t.Helper()
	list, err := s.c.ListSteps(context.Background(), id)
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]api.Step{}
	for _, st := range list {
		out[st.Key] = st
	}
	return out
}

func (s *stepScenario) output(task api.Task, v any) {
	s.t.Helper()
	if err := json.Unmarshal(task.Output, v); err != nil {
		s.t.Fatalf("task %s output %s: %v", task.ID, task.Output, err)
	}
}

func (s *stepScenario) run() {
	t, ctx := s.t, context.Background()
	crash, crashDir := s.submit("crash", 0)

	// kill -9 of the agent in step two.
	pid := agentPid(t, crashDir, "the agent to reach step two", nil)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
	waiting := s.until(crash, api.TaskWaiting, "signal: approve", 60*time.Second)
	got := effects(t, crashDir)
	ranOnce(t, got, "one")
	if !slices.Equal(got["two"], []int{1, 2}) || len(got["three"]) != 0 {
		t.Fatalf("after the crash: effects %v, want one once, two in attempts 1 and 2", got)
	}
	if st := s.steps(crash)["two"]; st.Status != api.StepSucceeded || st.Attempts != 2 {
		t.Fatalf("journal's step two: %+v", st)
	}

	// While it waits, its worker's one slot runs the other tasks.
	budget, budgetDir := s.submit("budget", 50_000)
	sleep, sleepDir := s.submit("sleep", 0)
	fanout, fanoutDir := s.submit("fanout", 0)

	// Budget: the third step never begins.
	task := s.until(budget, api.TaskWaiting, "budget", 60*time.Second)
	got = effects(t, budgetDir)
	ranOnce(t, got, "b1", "b2")
	if len(got["b3"]) != 0 {
		t.Fatalf("b3 began over the budget: %v", got)
	}
	if task.Usage.CostMicros != 60_000 || task.Usage.CostMicros > 50_000+30_000 {
		t.Fatalf("spend at the pause: %d µ$, want 60000 (≤ the budget + one step)", task.Usage.CostMicros)
	}
	s.baton("tasks", "update", budget, "--max-cost-usd", "0.50")
	task = s.until(budget, api.TaskSucceeded, "", 60*time.Second)
	ranOnce(t, effects(t, budgetDir), "b1", "b2", "b3")
	var bout struct{ Steps []int }
	s.output(task, &bout)
	if !slices.Equal(bout.Steps, []int{1, 2, 3}) || task.Usage.CostMicros != 90_000 || task.Usage.Tokens != 30 {
		t.Fatalf("budget task: output %s, usage %+v; want steps 1 2 3, 90000 µ$, 30 tokens", task.Output, task.Usage)
	}

	// Sleep: 2 s in place, then 11 s without the worker.
	task = s.until(sleep, api.TaskSucceeded, "", 90*time.Second)
	ranOnce(t, effects(t, sleepDir), "after-short", "after-long")
	journal := s.steps(sleep)
	if journal["short"].Kind != api.StepRun || journal["long"].Kind != api.StepSleep || journal["long"].Status != api.StepSucceeded {
		t.Fatalf("sleep journal: %+v", journal)
	}
	if d := task.FinishedAt.Sub(*task.StartedAt); d < 13*time.Second {
		t.Fatalf("the sleeps took %s, want ≥ 13 s", d)
	}
	if task.Attempt < 2 {
		t.Fatalf("the long sleep did not suspend the attempt (attempt %d)", task.Attempt)
	}

	// Fan-out: three children and a joined fourth.
	task = s.until(fanout, api.TaskSucceeded, "", 90*time.Second)
	var fout struct {
		Children []string
		Join     struct{ Child int }
	}
	s.output(task, &fout)
	if len(fout.Children) != 3 || fout.Join.Child != 4 {
		t.Fatalf("fanout output %s", task.Output)
	}
	children := 0
	for c, err := range s.c.AllTasks(ctx, client.TaskListOptions{ListOptions: client.ListOptions{Limit: 100}}) {
		if err != nil {
			t.Fatal(err)
		}
		if c.ParentID != fanout {
			continue
		}
		children++
		s.until(c.ID, api.TaskSucceeded, "", 30*time.Second)
	}
	if children != 4 {
		t.Fatalf("%d children of %s, want 4", children, fanout)
	}
	ranOnce(t, effects(t, fanoutDir), "child-1", "child-2", "child-3", "child-4")
	// Its emitted lines are the task's stream events on channel tokens (in
	// every attempt: emit is not a step).
	events, err := s.c.ListTaskEvents(ctx, fanout, 0)
	if err != nil {
		t.Fatal(err)
	}
	var emitted []string
	for _, e := range events {
		if e.Type == api.EventStream {
			emitted = append(emitted, e.Channel+":"+e.Message)
		}
	}
	if len(emitted) < 2 || emitted[0] != "tokens:fan" || emitted[1] != "tokens:out" {
		t.Fatalf("stream events %q, want tokens:fan, tokens:out", emitted)
	}

	// The crash task waited all along without accruing execution time.
	task = s.get(crash)
	if task.Status != api.TaskWaiting || task.Usage.ExecutionMS != waiting.Usage.ExecutionMS {
		t.Fatalf("the waiting task: %s, execution %d ms, was %d ms", task.Status, task.Usage.ExecutionMS, waiting.Usage.ExecutionMS)
	}
	if _, err := s.other.Signal(ctx, crash, "approve", []byte(`{"ok": false}`), ""); !client.IsCode(err, api.CodeNotFound) {
		t.Fatalf("a signal from another workspace: %v, want 404", err)
	}
	if _, err := s.c.Signal(ctx, crash, "approve", []byte(`{"ok": true}`), ""); err != nil {
		t.Fatal(err)
	}
	task = s.until(crash, api.TaskSucceeded, "", 60*time.Second)
	var cout struct {
		Sum      int
		Approval struct{ OK bool }
	}
	s.output(task, &cout)
	got = effects(t, crashDir)
	ranOnce(t, got, "one", "three")
	if cout.Sum != 6 || !cout.Approval.OK || len(got["two"]) != 2 {
		t.Fatalf("crash task: output %s, effects %v", task.Output, got)
	}
	// Metered: every step attempt that ran (the killed one too), 10
	// tokens and $0.01 each; the replays nothing.
	ran := 0
	for _, attempts := range got {
		ran += len(attempts)
	}
	if task.Usage.Tokens != int64(10*ran) || task.Usage.CostMicros != int64(10_000*ran) {
		t.Fatalf("crash task usage %+v, want %d step attempts' worth", task.Usage, ran)
	}
	t.Logf("crash task: %d attempts, usage %+v; budget task resumed; sleep %s; %d children",
		task.Attempt, task.Usage, s.get(sleep).FinishedAt.Sub(*s.get(sleep).StartedAt).Round(time.Millisecond), children)
}

// testStepRoundTrip measures a step's round trip through `baton worker
// run`'s endpoint to the server and back (the Go agent's bench mode): N new
// steps (begin + end) in attempt 1, their N replays in attempt 2; the
// replays run nothing.
func testStepRoundTrip(t *testing.T, pgURL string) {
	const n = 300
	s := newGoStepCluster(t, pgURL, "bench").s
	id, dir := s.submitN("bench", n, 0)
	task := s.until(id, api.TaskSucceeded, "", 120*time.Second)
	var got stepTimes
	s.output(task, &got)
	if runs := effects(t, dir)["s"]; got.Sum != n*(n-1)/2 || len(runs) != n || slices.Contains(runs, 2) {
		t.Fatalf("sum %d, %d step runs (attempts %v): want %d, %d runs, all in attempt 1", got.Sum, len(runs), runs, n*(n-1)/2, n)
	}
	t.Logf("%d steps through the worker's endpoint: new (begin+end) p50 %d µs p99 %d µs; replayed p50 %d µs p99 %d µs",
		n, got.NewP50, got.NewP99, got.ReplayP50, got.ReplayP99)
}

// TestStepRoundTripSQLite: go test ./internal/e2e -run TestStepRoundTrip -v
// prints the numbers of docs/steps.md "What a step costs".
func TestStepRoundTripSQLite(t *testing.T) { testStepRoundTrip(t, "") }

// TestStepRoundTripPostgres is the same on PostgreSQL.
func TestStepRoundTripPostgres(t *testing.T) { testStepRoundTrip(t, postgresOrSkip(t)) }

// testTenSteps is the crash test with the agent, the worker or the
// server killed: a Go agent of ten steps, each appending its key to a file and
// reporting 10 tokens, blocks in step 9 of attempt 1 (its usage already
// heartbeated to the server); then kill -9 of the agent alone, of the worker (and its agent)
// and a new worker, or kill -9 of the server and a new one on the same
// address before the agent goes on. The task succeeds, steps 1–8 and 10
// ran once, step 9 at most twice, and the metered tokens are 10 per step
// attempt that ran.
func testTenSteps(t *testing.T, pgURL, kill string) {
	g := newGoStepCluster(t, pgURL, "ten")
	s := g.s
	id, dir := s.submit("ten", 0)
	pid := agentPid(t, dir, "the agent to block in step 9 with its usage heartbeated", func() bool {
		return s.get(id).Usage.Tokens == 90
	})
	switch kill {
	case "agent":
		// The worker sees its agent die: the attempt fails and the task
		// is retried, replaying steps 1-8.
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %d: %v", pid, err)
		}
	case "worker":
		g.work.kill9(t)
		_ = syscall.Kill(pid, syscall.SIGKILL) // its own process group: the worker's death does not reach it
		g.worker("worker-2", g.addr, g.key, 1, g.agent)
	case "server":
		g.srv.kill9(t)
		g.server("server-2", g.addr)
		if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	task := s.until(id, api.TaskSucceeded, "", 90*time.Second)
	got := effects(t, dir)
	ranOnce(t, got, "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s10")
	ran := 0
	for _, attempts := range got {
		ran += len(attempts)
	}
	var out struct{ Sum int }
	s.output(task, &out)
	if n := len(got["s9"]); n < 1 || n > 2 || out.Sum != 55 {
		t.Fatalf("step 9 ran %d times, output %s", n, task.Output)
	}
	if task.Usage.Tokens != int64(10*ran) {
		t.Fatalf("metered %d tokens for %d step attempts, want %d", task.Usage.Tokens, ran, 10*ran)
	}
	t.Logf("kill -9 of the %s: %d attempts, step 9 ran %d times, %d tokens metered", kill, task.Attempt, len(got["s9"]), task.Usage.Tokens)
}

func TestTenStepsAgentKillSQLite(t *testing.T)    { testTenSteps(t, "", "agent") }
func TestTenStepsAgentKillPostgres(t *testing.T)  { testTenSteps(t, postgresOrSkip(t), "agent") }
func TestTenStepsWorkerKillSQLite(t *testing.T)   { testTenSteps(t, "", "worker") }
func TestTenStepsServerKillSQLite(t *testing.T)   { testTenSteps(t, "", "server") }
func TestTenStepsWorkerKillPostgres(t *testing.T) { testTenSteps(t, postgresOrSkip(t), "worker") }
func TestTenStepsServerKillPostgres(t *testing.T) { testTenSteps(t, postgresOrSkip(t), "server") }

// testAtMostOnce: an at-most-once step whose agent is killed in it is not
// run again by itself — the task waits for an operator — and `baton tasks
// retry` runs it again; then a signal sent twice with one idempotency key
// is delivered once (the program's second wait still waits), and another
// signal ends it.
func testAtMostOnce(t *testing.T, pgURL string) {
	s := newGoStepCluster(t, pgURL, "amo").s
	c, ctx := s.c, context.Background()
	id, dir := s.submit("amo", 0)
	task := api.Task{ID: id}
	if err := syscall.Kill(agentPid(t, dir, "the agent to be in the at-most-once step", nil), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s.until(task.ID, api.TaskWaiting, "operator", 60*time.Second)
	if got := effects(t, dir)["charge"]; !slices.Equal(got, []int{1}) {
		t.Fatalf("charge ran in attempts %v before the operator, want only 1", got)
	}
	s.baton("tasks", "retry", task.ID)
	s.until(task.ID, api.TaskWaiting, "signal: go", 60*time.Second)
	if got := effects(t, dir)["charge"]; len(got) != 2 {
		t.Fatalf("charge after the retry ran in attempts %v, want twice", got)
	}
	for range 2 {
		if _, err := c.Signal(ctx, task.ID, "go", []byte(`1`), "once"); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 60*time.Second, "the second wait to wait", func() bool {
		j := s.steps(task.ID)
		return j["go"].Status == api.StepSucceeded && j["go#2"].Status == api.StepWaiting && s.get(task.ID).Status == api.TaskWaiting
	})
	if _, err := c.Signal(ctx, task.ID, "go", []byte(`2`), "twice"); err != nil {
		t.Fatal(err)
	}
	task = s.until(task.ID, api.TaskSucceeded, "", 60*time.Second)
	var out struct{ First, Second int }
	s.output(task, &out)
	if out.First != 1 || out.Second != 2 {
		t.Fatalf("output %s, want the signals 1 then 2", task.Output)
	}
}

func TestAtMostOnceSQLite(t *testing.T)   { testAtMostOnce(t, "") }
func TestAtMostOncePostgres(t *testing.T) { testAtMostOnce(t, postgresOrSkip(t)) }

// TestWaitsFreeTheWorkspaceSlot is the slot test: a workspace with
// max_concurrent_tasks=1 (the worker could run three) and three tasks that
// each wait for a signal: all three reach their wait — so none holds the
// workspace's one slot — their execution time does not grow while they
// wait, and a signal wakes each to succeed.
func TestWaitsFreeTheWorkspaceSlot(t *testing.T) {
	cl := newCluster(t, "")
	addr := freePort(t)
	cl.server("server", addr)
	ctx := context.Background()
	c, key := cl.tenantWith(addr, "one-slot", "team", map[string]int64{api.LimitMaxConcurrentTasks: 1})
	cl.worker("worker", addr, key, 3, stepAgents(t, cl.bin)["go"])
	s := &stepScenario{t: t, c: c, dir: t.TempDir()}
	var ids []string
	for range 3 {
		in, _ := json.Marshal(stepInput{Mode: "approve", Dir: s.dir})
		task, err := c.SubmitTask(ctx, api.SubmitTaskRequest{Input: in}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	exec := map[string]int64{}
	for _, id := range ids {
		exec[id] = s.until(id, api.TaskWaiting, "signal: approve", 60*time.Second).Usage.ExecutionMS
	}
	for _, id := range ids {
		if task := s.get(id); task.Status != api.TaskWaiting || task.Usage.ExecutionMS != exec[id] {
			t.Fatalf("task %s while waiting: %s, execution %d ms, was %d ms", id, task.Status, task.Usage.ExecutionMS, exec[id])
		}
		if _, err := c.Signal(ctx, id, "approve", []byte(`true`), ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		task := s.until(id, api.TaskSucceeded, "", 60*time.Second)
		var out struct {
			Sum      int
			Approval bool
		}
		s.output(task, &out)
		if out.Sum != 3 || !out.Approval {
			t.Fatalf("task %s output %s", id, task.Output)
		}
	}
	if got := effects(t, s.dir); len(got["one"]) != 3 || len(got["two"]) != 3 {
		t.Fatalf("effects %v: want one and two once per task", got)
	}
}
