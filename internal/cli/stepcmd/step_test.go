package stepcmd_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/cli/stepcmd"
	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/agent/agenttest"
	"github.com/genericcorp/baton/pkg/api"
)

// stepEnv is a CLI environment whose step endpoint is a fake (no server:
// `baton step` talks only to the endpoint).
type stepEnv struct {
	*agenttest.Fake
	e *clitest.Env
}

func newStepEnv(t *testing.T) *stepEnv {
	return &stepEnv{Fake: agenttest.New(t), e: clitest.NewStub(t, clitest.Routes{})}
}

// run runs `baton step ARGS…` in the fake's attempt with stdin.
func (s *stepEnv) run(stdin string, args ...string) clitest.Result {
	return s.e.Exec(clitest.Invocation{Args: append([]string{"step"}, args...), Stdin: stdin,
		Env: map[string]string{agent.EnvStepURL: s.URL(), agent.EnvStepToken: agenttest.Token}})
}

// counter is a shell command that appends a line to a file (a side effect
// to count) and prints what it is given.
func counter(t *testing.T) (path string, sh func(out string) []string) {
	path = filepath.Join(t.TempDir(), "runs")
	return path, func(out string) []string {
		return []string{"--", "sh", "-c", `echo run >> "$1"; printf '%s' "$2"`, "sh", path, out}
	}
}

func lines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// A step's command runs once; every replay prints its output byte for
// byte without running it. -o json prints the step.
func TestRunRecordsAndReplays(t *testing.T) {
	s := newStepEnv(t)
	path, sh := counter(t)
	out := "3 pages\nlast line without a newline: ünïcode"
	r := s.run("", append([]string{"run", "fetch"}, sh(out)...)...).Want(t, 0)
	if r.Stdout != out {
		t.Fatalf("stdout %q, want %q", r.Stdout, out)
	}
	clitest.Golden(t, "run_ran_json", s.run("", append([]string{"run", "other", "-o", "json"}, sh("x\n")...)...).Want(t, 0).Stdout)
	s.NextAttempt()
	for range 2 {
		r = s.run("", append([]string{"run", "fetch"}, sh("changed")...)...).Want(t, 0)
		if r.Stdout != out {
			t.Fatalf("replay stdout %q, want %q", r.Stdout, out)
		}
		s.NextAttempt()
	}
	if r := s.run("", append([]string{"run", "fetch", "-q"}, sh("changed")...)...).Want(t, 0); r.Stdout != out {
		t.Fatalf("-q: stdout %q", r.Stdout)
	}
	s.NextAttempt()
	clitest.Golden(t, "run_replayed_json", s.run("", append([]string{"run", "fetch", "-o", "json"}, sh("changed")...)...).Want(t, 0).Stdout)
	if n := lines(t, path); n != 2 {
		t.Fatalf("the commands ran %d times, want 2 (fetch and other, once each)", n)
	}
	if st := s.Step("fetch"); st.Runs != 1 || st.Status != api.StepSucceeded {
		t.Fatalf("journal: %+v", st)
	}
}

// The command's environment names the step; its usage lines are charged
// to the step and not printed; the rest of its stderr passes through.
func TestRunEnvironmentAndUsage(t *testing.T) {
	s := newStepEnv(t)
	r := s.run("the task's input", "run", "llm", "--", "sh", "-c",
		`cat; echo " $BATON_STEP_KEY $BATON_STEP_IDEMPOTENCY_KEY [$BATON_STEP_PREVIOUS_OUTCOME]"; echo thinking >&2; echo '::baton usage tokens=1200 cost_usd=0.031' >&2; printf 'partial' >&2`).Want(t, 0)
	if want := "the task's input llm " + agenttest.TaskID + "/llm []\n"; r.Stdout != want {
		t.Fatalf("stdout %q, want %q", r.Stdout, want)
	}
	if r.Stderr != "thinking\npartial\n" {
		t.Fatalf("stderr %q", r.Stderr)
	}
	if u := s.Step("llm").Usage; u != (api.UsageReport{Tokens: 1200, CostMicros: 31_000}) {
		t.Fatalf("step usage %+v", u)
	}
}

// Exit 78 records a failure: the replay exits 78 without running; any
// other exit records nothing, is the exit, and the next attempt runs the
// step again, told its previous outcome is unknown.
func TestRunFailures(t *testing.T) {
	s := newStepEnv(t)
	r := s.run("", "run", "parse", "--", "sh", "-c", `echo "not a PDF" >&2; exit 78`).Want(t, 78)
	if !strings.Contains(r.Stderr, "step parse failed: not a PDF") {
		t.Fatalf("stderr %q", r.Stderr)
	}
	s.NextAttempt()
	r = s.run("", "run", "parse", "--", "sh", "-c", `echo ran; exit 0`).Want(t, 78)
	if r.Stdout != "" || !strings.Contains(r.Stderr, "not a PDF") {
		t.Fatalf("replay of a failure: %+v", r)
	}

	r = s.run("", "run", "flaky", "--", "sh", "-c", `echo half; exit 3`).Want(t, 3)
	if r.Stdout != "" || !strings.Contains(r.Stderr, "runs again in the next attempt") {
		t.Fatalf("a plain failure: %+v", r)
	}
	if st := s.Step("flaky"); st.Status != api.StepRunning {
		t.Fatalf("journal after exit 3: %+v", st)
	}
	s.NextAttempt()
	s.run("", "run", "parse", "--", "true").Want(t, 78)
	r = s.run("", "run", "flaky", "--", "sh", "-c", `echo "$BATON_STEP_PREVIOUS_OUTCOME"`).Want(t, 0)
	if r.Stdout != "unknown\n" {
		t.Fatalf("rerun: %q", r.Stdout)
	}
	s.run("", "run", "nope", "--", filepath.Join(t.TempDir(), "missing")).Want(t, 1)
}

// An at-most-once step whose attempt died in it waits for an operator; a
// step over the budget does not begin: both exit 75 without running.
func TestRunSuspends(t *testing.T) {
	s := newStepEnv(t)
	path, sh := counter(t)
	s.run("", append([]string{"run", "charge", "--at-most-once"}, "--", "sh", "-c", "exit 9")...).Want(t, 9)
	s.NextAttempt()
	r := s.run("", append([]string{"run", "charge", "--at-most-once"}, sh("x")...)...).Want(t, 75)
	if r.Stdout != "" || !strings.Contains(r.Stderr, "operator") {
		t.Fatalf("at most once: %+v", r)
	}
	s.NextAttempt()
	s.SetBudget("task budget $0.05 reached")
	r = s.run("", append([]string{"run", "llm"}, sh("x")...)...).Want(t, 75)
	if !strings.Contains(r.Stderr, "budget") {
		t.Fatalf("budget: %q", r.Stderr)
	}
	if lines(t, path) != 0 {
		t.Fatal("a suspended step ran its command")
	}
	// -q silences the note; the code stays. In JSON mode it is a JSON error.
	if r := s.run("", "sleep", "x", "1s", "-q").Want(t, 75); r.Stderr != "" {
		t.Fatalf("-q: stderr %q", r.Stderr)
	}
	if r := s.run("", "sleep", "x", "1s", "-o", "json").Want(t, 75); r.Stdout != "" || !strings.HasPrefix(r.Stderr, `{"error":`) {
		t.Fatalf("-o json: %+v", r)
	}
	s.NextAttempt()
	s.SetBudget("")
	s.run("", append([]string{"run", "input", "--input-hash", "h1"}, sh("x")...)...).Want(t, 0)
	s.NextAttempt()
	s.run("", append([]string{"run", "input", "--input-hash", "h2"}, sh("x")...)...).Want(t, 1)
	s.Stop("cancelled")
	s.run("", append([]string{"run", "late"}, sh("x")...)...).Want(t, 75)
}

// A short sleep is recorded in place; a long one exits 75 and replays.
func TestSleep(t *testing.T) {
	s := newStepEnv(t)
	if r := s.run("", "sleep", "short", "2s").Want(t, 0); r.Stdout != "" {
		t.Fatalf("stdout %q", r.Stdout)
	}
	s.run("", "sleep", "long", "2h").Want(t, 75)
	s.NextAttempt()
	s.run("", "sleep", "short", "2s").Want(t, 0)
	clitest.Golden(t, "sleep_json", s.run("", "sleep", "long", "2h", "-o", "json").Want(t, 0).Stdout)
}

// A wait exits 75 until its signal comes, then prints its data; a timeout
// exits 7.
func TestWait(t *testing.T) {
	s := newStepEnv(t)
	r := s.run("", "wait", "approve", "approve", "--timeout", "24h").Want(t, 75)
	if !strings.Contains(r.Stderr, "signal: approve") {
		t.Fatalf("stderr %q", r.Stderr)
	}
	s.Signal("approve", `{"ok":true,"by":"ana"}`)
	s.NextAttempt()
	clitest.Golden(t, "wait_plain", s.run("", "wait", "approve", "approve").Want(t, 0).Stdout)
	s.NextAttempt() // in one attempt a repeated key is the key's next occurrence
	clitest.Golden(t, "wait_json", s.run("", "wait", "approve", "approve", "-o", "json").Want(t, 0).Stdout)
	s.NextAttempt()
	if r := s.run("", "wait", "approve", "approve", "--jq", ".output.by").Want(t, 0); r.Stdout != "ana\n" {
		t.Fatalf("--jq: %q", r.Stdout)
	}
	s.TimeOut("late")
	r = s.run("", "wait", "late", "late", "--timeout", "1m").Want(t, 7)
	if !strings.Contains(r.Stderr, "timed out") {
		t.Fatalf("timeout: %q", r.Stderr)
	}
}

// A spawn prints the child's id; with --wait it exits 75 until the child
// ends, then prints its output, or exits 78 when it failed.
func TestSpawn(t *testing.T) {
	s := newStepEnv(t)
	in := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(in, []byte(`{ "page": 2 }`), 0o600); err != nil {
		t.Fatal(err)
	}
	clitest.Golden(t, "spawn_plain", s.run("", "spawn", "page-1", "--queue", "ocr", "--input", `{"page": 1}`).Want(t, 0).Stdout)
	s.run("", "spawn", "page-2", "--input", "@"+in, "--wait").Want(t, 75)
	s.EndChild("task_child2", `{"text":"two"}`, "")
	s.NextAttempt()
	clitest.Golden(t, "spawn_json", s.run("", "spawn", "page-1", "--queue", "ocr", "--input", `{"page": 1}`, "-o", "json").Want(t, 0).Stdout)
	clitest.Golden(t, "spawn_wait_plain", s.run("", "spawn", "page-2", "--input", "@"+in, "--wait").Want(t, 0).Stdout)
	s.run(`{"page": 3}`, "spawn", "page-3", "--input", "-", "--wait").Want(t, 75)
	s.EndChild("task_child3", "", "cancelled")
	s.NextAttempt()
	for _, k := range []string{"page-1", "page-2"} {
		s.run("", "spawn", k, "--input", "{}").Want(t, 0)
	}
	if r := s.run("", "spawn", "page-3", "--input", "{}", "--wait").Want(t, 78); !strings.Contains(r.Stderr, "task_child3 cancelled") {
		t.Fatalf("a cancelled child: %q", r.Stderr)
	}
	if q, got := s.ChildInput("task_child2"); q != "" || string(got) != `{"page":2}` {
		t.Fatalf("child 2: %q %s", q, got)
	}
	if _, got := s.ChildInput("task_child3"); string(got) != `{"page":3}` {
		t.Fatalf("child 3: %s", got)
	}
}

// emit sends stdin's lines, on a channel when given.
func TestEmit(t *testing.T) {
	s := newStepEnv(t)
	if r := s.run("Hel\nlo\r\n\nend", "emit", "tokens").Want(t, 0); r.Stdout != "" || r.Stderr != "" {
		t.Fatalf("emit printed %+v", r)
	}
	s.run("plain\n", "emit").Want(t, 0)
	s.run("", "emit").Want(t, 0)
	if got, want := s.Emitted(), []string{"[tokens] Hel", "[tokens] lo", "[tokens] ", "[tokens] end", "plain"}; !slices.Equal(got, want) {
		t.Fatalf("emitted %q, want %q", got, want)
	}
}

// Outside `baton worker run` every verb exits 2; a wrong token exits 4.
func TestEndpointExitCodes(t *testing.T) {
	s := newStepEnv(t)
	verbs := [][]string{
		{"run", "k", "--", "true"}, {"sleep", "k", "1s"}, {"wait", "k", "s"},
		{"spawn", "k", "--input", "{}"}, {"emit"},
	}
	for _, v := range verbs {
		r := s.e.Exec(clitest.Invocation{Args: append([]string{"step"}, v...), Stdin: "x\n"})
		if r.Code != 2 || !strings.Contains(r.Stderr, "BATON_STEP_URL") {
			t.Errorf("%v without an endpoint: exit %d, %q", v, r.Code, r.Stderr)
		}
		r = s.e.Exec(clitest.Invocation{Args: append([]string{"step"}, v...), Stdin: "x\n",
			Env: map[string]string{agent.EnvStepURL: s.URL(), agent.EnvStepToken: "wrong"}})
		if r.Code != 4 {
			t.Errorf("%v with a wrong token: exit %d, %q", v, r.Code, r.Stderr)
		}
	}
	r := s.e.Exec(clitest.Invocation{Args: []string{"step", "sleep", "k", "1s", "-o", "json"}})
	if r.Code != 2 || !strings.HasPrefix(r.Stderr, `{"error":`) {
		t.Errorf("JSON mode error: %q", r.Stderr)
	}
}

// Flags and arguments: what each verb parses, and its usage errors (exit
// 2, nothing sent).
func TestFlags(t *testing.T) {
	f := clitest.Factory(false)
	var run *stepcmd.RunOptions
	for _, c := range []struct {
		args []string
		want *stepcmd.RunOptions
	}{
		{[]string{"fetch", "--", "curl", "-sf", "x"}, &stepcmd.RunOptions{Key: "fetch", Command: []string{"curl", "-sf", "x"}}},
		{[]string{"charge", "--at-most-once", "--input-hash", "h", "--", "./c.sh", "--at-most-once"},
			&stepcmd.RunOptions{Key: "charge", Command: []string{"./c.sh", "--at-most-once"}, AtMostOnce: true, InputHash: "h"}},
		{[]string{"a b#2/c", "--", "true"}, &stepcmd.RunOptions{Key: "a b#2/c", Command: []string{"true"}}},
	} {
		run = nil
		cmd := stepcmd.NewCmdRun(f, func(_ context.Context, o *stepcmd.RunOptions) error { run = o; return nil })
		if err := clitest.Parse(cmd, c.args...); err != nil || !reflect.DeepEqual(run, c.want) {
			t.Errorf("run %q: %+v, %v; want %+v", c.args, run, err, c.want)
		}
	}
	for _, args := range [][]string{
		{}, {"--", "true"}, {"fetch"}, {"fetch", "curl"}, {"fetch", "extra", "--", "curl"}, {"fetch", "--"},
		{strings.Repeat("k", api.MaxStepKeyLen+1), "--", "true"}, {"tab\tkey", "--", "true"}, {"--nope", "k", "--", "true"},
	} {
		cmd := stepcmd.NewCmdRun(f, func(context.Context, *stepcmd.RunOptions) error { t.Fatal("ran"); return nil })
		if err := clitest.Parse(cmd, args...); err == nil {
			t.Errorf("run %q parsed", args)
		}
	}

	var w *stepcmd.WaitOptions
	keep := func(_ context.Context, o *stepcmd.WaitOptions) error { w = o; return nil }
	if err := clitest.Parse(stepcmd.NewCmdSleep(f, keep), "nap", "90s"); err != nil || w.Key != "nap" || w.Duration != 90*time.Second {
		t.Errorf("sleep: %+v, %v", w, err)
	}
	if err := clitest.Parse(stepcmd.NewCmdWait(f, keep), "ok", "approve", "--timeout", "1h"); err != nil || w.Signal != "approve" || w.Timeout != time.Hour {
		t.Errorf("wait: %+v, %v", w, err)
	}
	if err := clitest.Parse(stepcmd.NewCmdSpawn(f, keep), "c", "--queue", "q", "--input", ` { "a" : 1 } `, "--wait"); err != nil ||
		w.Queue != "q" || string(w.Input) != `{"a":1}` || !w.Wait {
		t.Errorf("spawn: %+v, %v", w, err)
	}
	var e *stepcmd.EmitOptions
	if err := clitest.Parse(stepcmd.NewCmdEmit(f, func(_ context.Context, o *stepcmd.EmitOptions) error { e = o; return nil }), "llm"); err != nil || e.Channel != "llm" {
		t.Errorf("emit: %+v, %v", e, err)
	}

	s := newStepEnv(t)
	for _, args := range [][]string{
		{"run"}, {"run", "k", "true"}, {"sleep", "k"}, {"sleep", "k", "soon"}, {"sleep", "k", "-1s"},
		{"wait", "k"}, {"wait", "k", "s", "--timeout", "-1s"}, {"wait", "k", "s", "--timeout", "x"},
		{"spawn", "k"}, {"spawn", "k", "--input", "{nope"}, {"spawn", "k", "--input", "@/does/not/exist"},
		{"emit", "a", "b"}, {"nope"},
	} {
		r := s.run("", args...)
		if r.Code != 2 || r.Stdout != "" {
			t.Errorf("%q: exit %d, want 2; stdout %q stderr %q", args, r.Code, r.Stdout, r.Stderr)
		}
	}
	if calls := s.Calls(); len(calls) != 0 {
		t.Errorf("usage errors called the endpoint: %q", calls)
	}
}

// The edges of run: a command killed by a signal exits 1 (nothing
// recorded), an output past the journal's limit is refused, a step that
// another helper recorded (not a string) prints as a JSON line, -o csv
// prints the step's fields.
func TestRunEdges(t *testing.T) {
	s := newStepEnv(t)
	s.run("", "run", "killed", "--", "sh", "-c", "kill -9 $$").Want(t, 1)
	if st := s.Step("killed"); st.Status != api.StepRunning {
		t.Fatalf("a killed command's step: %+v", st)
	}
	r := s.run("", "run", "big", "--", "head", "-c", strconv.Itoa(api.MaxStepOutputBytes), "/dev/zero").Want(t, 1)
	if !strings.Contains(r.Stderr, "the journal keeps at most") || r.Stdout != "" {
		t.Fatalf("a big output: %+v", r)
	}
	ctx := agent.WithClient(context.Background(), s.Client())
	if _, err := agent.Run(ctx, "typed", func(context.Context) (map[string]int, error) { return map[string]int{"n": 3}, nil }); err != nil {
		t.Fatal(err)
	}
	s.NextAttempt()
	if r := s.run("", "run", "typed", "--", "false").Want(t, 0); r.Stdout != "{\"n\":3}\n" {
		t.Fatalf("a typed output: %q", r.Stdout)
	}
	s.NextAttempt()
	clitest.Golden(t, "run_csv", s.run("", "run", "typed", "-o", "csv", "--", "false").Want(t, 0).Stdout)
}

// join prints how each child ended, in order, once all have; it exits 75
// while one runs. A failed child is an outcome (exit 0).
func TestJoin(t *testing.T) {
	s := newStepEnv(t)
	var ids []string
	for _, p := range []string{"1", "2"} {
		r := s.run("", "spawn", "page-"+p, "--input", `{"page": `+p+`}`).Want(t, 0)
		ids = append(ids, strings.TrimSpace(r.Stdout))
	}
	if r := s.run("", append([]string{"join", "pages"}, ids...)...).Want(t, 75); !strings.Contains(r.Stderr, "signal: child:task_child1") {
		t.Fatalf("join of running children: %q", r.Stderr)
	}
	s.EndChild("task_child2", "", "boom")
	s.EndChild("task_child1", `{"text":"one"}`, "")
	s.NextAttempt()
	for _, p := range []string{"1", "2"} {
		s.run("", "spawn", "page-"+p, "--input", `{"page": `+p+`}`).Want(t, 0)
	}
	r := s.run("", append([]string{"join", "pages"}, ids...)...).Want(t, 0)
	want := `[{"task_id":"task_child1","status":"succeeded","output":{"text":"one"},"error":""},` +
		`{"task_id":"task_child2","status":"failed","output":null,"error":"boom"}]` + "\n"
	if r.Stdout != want {
		t.Fatalf("join printed %q, want %q", r.Stdout, want)
	}
	if k := s.Keys(); !slices.Contains(k, "pages/task_child1") || !slices.Contains(k, "pages/task_child2") {
		t.Fatalf("journal keys %v", k)
	}
	s.run("", "join", "pages").Want(t, 2)
}
