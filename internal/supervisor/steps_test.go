package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
)

const stepAgentMode = "step-agent"

// stepAgent is the agent of TestStepEndpointSuspendsAndReplays (this test
// binary run by the worker): steps a and b report 100 tokens each through
// the endpoint, then it waits for signal approve, then step c reports 5
// tokens on a `::baton usage` line.
func stepAgent() int {
	ctx := context.Background()
	step := func(key string, report func(ctx context.Context) error) (int, error) {
		return agent.Run(ctx, key, func(ctx context.Context) (int, error) {
			return len(key), report(ctx)
		})
	}
	viaEndpoint := func(ctx context.Context) error { return agent.Usage(ctx, 100, 1000) }
	a, err := step("a", viaEndpoint)
	if err == nil {
		_, err = step("b", viaEndpoint)
	}
	var data json.RawMessage
	if err == nil {
		data, err = agent.Wait(ctx, "approve", "approve", 0)
	}
	if err == nil {
		_, err = step("c", func(context.Context) error {
			fmt.Fprintln(os.Stderr, "::baton usage tokens=5 cost_usd=0")
			return nil
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		return agent.ExitCode(err)
	}
	fmt.Printf(`{"a": %d, "approve": %s}`, a, data)
	return 0
}

// An attempt that reaches a wait is suspended: the agent is stopped and
// nothing is reported; the next attempt replays the recorded steps (they do
// not run, nor meter) and runs on.
func TestStepEndpointSuspendsAndReplays(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the agent is this test binary (TestMain of protect_linux_test.go)")
	}
	f := newStepFake()
	h := start(t, f.fakeAPI, "", func(c *Config) {
		c.API = f
		c.Command = []string{os.Args[0]}
		c.Env = append(c.Env, helperEnv+"="+stepAgentMode)
	})
	f.push(api.Task{ID: "task_1", Attempt: 1})
	testutil.Eventually(t, 20*time.Second, "attempt 1 suspended", func() bool {
		return strings.Contains(h.logBuf.String(), "attempt suspended")
	})
	begins, ends := f.calls()
	if got := f.finished(); got != 0 {
		t.Fatalf("a suspended attempt was reported (%d outcomes)", got)
	}
	if len(begins) != 3 || begins[2].Key != "approve" || begins[2].Begin.Kind != api.StepWait {
		t.Fatalf("begins of attempt 1 = %+v, want a, b, approve (wait)", begins)
	}
	for _, b := range begins {
		if b.Begin.Attempt != 1 {
			t.Errorf("begin %s carried attempt %d, want 1", b.Key, b.Begin.Attempt)
		}
	}
	if len(ends) != 2 || ends[0].End.Usage.Tokens != 100 || ends[1].End.Usage.Tokens != 200 {
		t.Fatalf("ends of attempt 1 = %+v, want the attempt's totals 100 then 200 tokens", ends)
	}

	f.signal("approve", `{"ok": true}`)
	f.push(api.Task{ID: "task_1", Attempt: 2})
	testutil.Eventually(t, 20*time.Second, "attempt 2 reported", func() bool { return f.finished() == 1 })
	_, _, _, completes, fails := f.snapshot()
	if len(fails) != 0 || len(completes) != 1 {
		t.Fatalf("outcomes: completes %+v fails %+v", completes, fails)
	}
	c := completes[0].Complete
	if c.Attempt != 2 || !strings.Contains(string(c.Output), `"ok":true`) && !strings.Contains(string(c.Output), `"ok": true`) {
		t.Errorf("completion = attempt %d output %s, want attempt 2 with the signal's data", c.Attempt, c.Output)
	}
	if c.Usage.Tokens != 5 {
		t.Errorf("attempt 2 metered %d tokens, want 5 (only step c ran; a and b replayed)", c.Usage.Tokens)
	}
	for key, want := range map[string]int{"a": 1, "b": 1, "c": 1} {
		if got := f.runs(key); got != want {
			t.Errorf("step %s ran %d times, want %d", key, got, want)
		}
	}
}

// stepAttempt is an attempt with its endpoint, outside a worker's loop.
func stepAttempt(t *testing.T, f *stepFake, sleep func(context.Context, time.Duration) error) (*attempt, *stepServer) {
	t.Helper()
	cfg, err := Config{API: f, Runner: EchoRunner, sleep: sleep}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	w := &worker{cfg: cfg, log: cfg.Log, running: map[*attempt]struct{}{}}
	a := newAttempt(w, api.Task{ID: "task_1", Attempt: 3, Queue: "q", WorkspaceID: "ws_1"}, time.Second)
	s, err := a.startSteps()
	if err != nil || s == nil {
		t.Fatalf("startSteps: %v, %v", s, err)
	}
	t.Cleanup(s.close)
	return a, s
}

func TestStepEndpointToken(t *testing.T) {
	f := newStepFake()
	_, s := stepAttempt(t, f, nil)
	ctx := context.Background()
	if !strings.HasPrefix(s.url, "http://127.0.0.1:") {
		t.Errorf("endpoint %s is not on 127.0.0.1", s.url)
	}
	for _, tok := range []string{"", "wrong", s.token + "x"} {
		if _, err := agent.NewClient(s.url, tok, nil).Info(ctx); !errors.Is(err, agent.ErrBadToken) {
			t.Errorf("token %q: err = %v, want ErrBadToken", tok, err)
		}
	}
	if _, err := agent.Run(agent.WithClient(ctx, agent.NewClient(s.url, "wrong", nil)), "x", func(context.Context) (int, error) {
		t.Error("a step ran with a bad token")
		return 0, nil
	}); !errors.Is(err, agent.ErrBadToken) {
		t.Errorf("Run with a bad token: %v", err)
	}
	if begins, _ := f.calls(); len(begins) != 0 {
		t.Errorf("a call with a bad token reached the server: %+v", begins)
	}
	info, err := agent.NewClient(s.url, s.token, nil).Info(ctx)
	if err != nil || info != (agent.AttemptInfo{TaskID: "task_1", Attempt: 3, Queue: "q", WorkspaceID: "ws_1"}) {
		t.Errorf("Info = %+v, %v", info, err)
	}
}

func TestStepEndpointUsageSleepAndSuspend(t *testing.T) {
	f := newStepFake()
	var slept []time.Duration
	a, s := stepAttempt(t, f, func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil })
	ctx := agent.WithClient(context.Background(), agent.NewClient(s.url, s.token, nil))

	// Usage reported outside a step counts in the attempt's totals at the
	// next begin; usage inside a step at its end.
	if err := agent.Usage(ctx, 7, 70); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Run(ctx, "x", func(ctx context.Context) (string, error) {
		if st := agent.StepOf(ctx); st.Key != "x" || st.IdempotencyKey != "task/x" {
			t.Errorf("StepOf = %+v", st)
		}
		return "done", agent.Usage(ctx, 3, 30)
	}); err != nil {
		t.Fatal(err)
	}
	begins, ends := f.calls()
	if begins[0].Begin.Usage.Tokens != 7 || begins[0].Begin.Attempt != 3 || ends[0].End.Usage.Tokens != 10 || ends[0].End.Usage.CostMicros != 100 {
		t.Errorf("begin %+v end %+v, want totals 7 then 10 tokens, attempt 3", begins[0].Begin, ends[0].End)
	}

	// A short sleep blocks in place once; its replay does not sleep.
	for range 2 {
		if err := agent.Sleep(ctx, "nap", 3*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(slept) != 1 || slept[0] != 3*time.Second || f.runs("nap") != 1 {
		t.Errorf("slept %v, nap ran %d times; want one 3s sleep", slept, f.runs("nap"))
	}

	// A long sleep suspends: the agent is told, the attempt stops as
	// suspended, and later calls answer suspend without the server.
	err := agent.Sleep(ctx, "long", time.Minute)
	if !errors.Is(err, agent.ErrSuspended) || agent.ExitCode(err) != agent.ExitSuspended {
		t.Fatalf("long sleep: %v (exit %d), want ErrSuspended (75)", err, agent.ExitCode(err))
	}
	begins, _ = f.calls()
	last := begins[len(begins)-1].Begin
	if last.Kind != api.StepSleep || last.Until == nil || time.Until(*last.Until) < 50*time.Second {
		t.Errorf("long sleep begin = %+v, want a sleep step a minute ahead", last)
	}
	testutil.Eventually(t, 5*time.Second, "attempt stopped", func() bool { return a.ctx.Err() != nil })
	a.mu.Lock()
	kind := a.kind
	a.mu.Unlock()
	if kind != stopSuspended {
		t.Errorf("stop kind = %v, want suspended", kind)
	}
	n := len(begins)
	if _, err := agent.Run(ctx, "after", func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, agent.ErrSuspended) {
		t.Errorf("a step after the suspension: %v, want ErrSuspended", err)
	}
	if begins, _ = f.calls(); len(begins) != n {
		t.Errorf("a call after the suspension reached the server")
	}
}

func TestStepEndpointWaitTimeoutAndFailures(t *testing.T) {
	f := newStepFake()
	_, s := stepAttempt(t, f, nil)
	ctx := agent.WithClient(context.Background(), agent.NewClient(s.url, s.token, nil))
	f.j.steps["w"] = &fakeStep{kind: api.StepWait, status: api.StepFailed, err: "timeout"}
	if _, err := agent.Wait(ctx, "w", "go", time.Second); !errors.Is(err, agent.ErrTimeout) || agent.ExitCode(err) != agent.ExitTimeout {
		t.Errorf("timed-out wait: %v, want ErrTimeout", err)
	}
	// A permanent failure is recorded and replays; another error is not.
	boom := errors.New("boom")
	if _, err := agent.Run(ctx, "p", func(context.Context) (int, error) { return 0, agent.Permanent(boom) }); !errors.Is(err, boom) {
		t.Fatalf("permanent: %v", err)
	}
	if _, err := agent.Run(ctx, "t", func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("transient: %v", err)
	}
	_, ends := f.calls()
	if len(ends) != 1 || ends[0].Key != "p" || ends[0].End.Error != "boom" {
		t.Errorf("ends = %+v, want only p's failure recorded", ends)
	}
	_, err := agent.Run(ctx, "p", func(context.Context) (int, error) { t.Error("a recorded step ran"); return 0, nil })
	var se *agent.StepError
	if !errors.As(err, &se) || se.Message != "boom" || agent.ExitCode(err) != agent.ExitPermanent {
		t.Errorf("replayed failure: %v, want *StepError boom, exit 78", err)
	}
	// A journal that disagrees is the server's 409, passed on.
	if _, err := agent.Wait(ctx, "p", "x", 0); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("kind changed: %v, want the server's 409", err)
	}
}

// Emitted lines leave as stream lines on their channel, at the latest
// before the next step call; a channel that cannot be one is the agent's
// 400, and nothing is sent.
func TestStepEndpointEmit(t *testing.T) {
	f := newStepFake()
	_, s := stepAttempt(t, f, nil)
	c := agent.NewClient(s.url, s.token, nil)
	ctx := context.Background()
	for _, bad := range []string{"two words", "tab\there", strings.Repeat("c", api.MaxChannelBytes+1)} {
		if err := c.Emit(ctx, bad, "x"); err == nil || !strings.Contains(err.Error(), "(400 invalid_request)") {
			t.Errorf("Emit on channel %q: %v, want a 400", bad, err)
		}
	}
	if err := c.Emit(ctx, "tokens", "fan", "out"); err != nil {
		t.Fatal(err)
	}
	if err := c.Emit(ctx, "", "plain"); err != nil {
		t.Fatal(err)
	}
	// No shipper loop runs here: the lines leave because a step call sends
	// what is pending first (a step that suspends would be too late).
	if len(f.logRequests()) != 0 {
		t.Fatal("lines sent before a step call")
	}
	if _, err := agent.Run(agent.WithClient(ctx, c), "after-emit", func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	want := []api.LogsRequest{
		{Attempt: 3, Lines: []string{"fan", "out"}, Stream: true, Channel: "tokens"},
		{Attempt: 3, Lines: []string{"plain"}, Stream: true},
	}
	if got := f.logRequests(); !reflect.DeepEqual(got, want) {
		t.Errorf("logs requests = %+v, want %+v", got, want)
	}
}
