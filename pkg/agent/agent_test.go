package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/agent/agenttest"
	"github.com/genericcorp/baton/pkg/api"
)

func ctxOf(f *agenttest.Fake) context.Context {
	return agent.WithClient(context.Background(), f.Client())
}

type pages struct {
	N    int    `json:"n"`
	Name string `json:"name"`
}

// A step runs once: its value is recorded, and the next attempt gets it
// back (decoded into T) without running the function.
func TestRunRecordsAndReplays(t *testing.T) {
	f := agenttest.New(t)
	ran := 0
	fetch := func(ctx context.Context) (pages, error) {
		ran++
		s := agent.StepOf(ctx)
		if s.Key != "fetch" || s.IdempotencyKey != agenttest.TaskID+"/fetch" || s.PreviousOutcome != "" {
			t.Errorf("StepOf = %+v", s)
		}
		return pages{N: 3, Name: "q3"}, nil
	}
	for attempt := 1; attempt <= 2; attempt++ {
		got, err := agent.Run(ctxOf(f), "fetch", fetch)
		if err != nil || got != (pages{N: 3, Name: "q3"}) {
			t.Fatalf("attempt %d: Run = %+v, %v", attempt, got, err)
		}
		f.NextAttempt()
	}
	if ran != 1 {
		t.Fatalf("the step ran %d times, want 1", ran)
	}
	if s := f.Step("fetch"); s.Status != api.StepSucceeded || string(s.Output) != `{"n":3,"name":"q3"}` {
		t.Fatalf("journal: %+v", s)
	}
	if got := agent.StepOf(context.Background()); got != (agent.Step{}) {
		t.Fatalf("StepOf outside a step = %+v", got)
	}
}

// A key repeated within one attempt is the key's next occurrence (KEY#2),
// and replays in the same order.
func TestRunRepeatedKeys(t *testing.T) {
	f := agenttest.New(t)
	var keys []string
	loop := func() []int {
		var out []int
		for i := range 3 {
			v, err := agent.Run(ctxOf(f), "page", func(ctx context.Context) (int, error) {
				keys = append(keys, agent.StepOf(ctx).Key)
				return i * 10, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	first := loop()
	f.NextAttempt()
	second := loop()
	if !slices.Equal(first, []int{0, 10, 20}) || !slices.Equal(second, first) {
		t.Fatalf("values %v then %v", first, second)
	}
	if want := []string{"page", "page#2", "page#3"}; !slices.Equal(keys, want) || !slices.Equal(f.Keys(), want) {
		t.Fatalf("keys run %v, journal %v, want %v", keys, f.Keys(), want)
	}
}

// An error not marked Permanent records nothing: the next attempt runs the
// step again and is told the previous outcome is unknown.
func TestRunErrorRunsAgain(t *testing.T) {
	f := agenttest.New(t)
	boom := errors.New("provider down")
	_, err := agent.Run(ctxOf(f), "call", func(context.Context) (string, error) { return "", boom })
	if !errors.Is(err, boom) || agent.ExitCode(err) != agent.ExitError {
		t.Fatalf("Run = %v (exit %d), want the function's error, exit 1", err, agent.ExitCode(err))
	}
	if s := f.Step("call"); s.Status != api.StepRunning {
		t.Fatalf("journal after a plain error: %+v", s)
	}
	f.NextAttempt()
	var prev string
	got, err := agent.Run(ctxOf(f), "call", func(ctx context.Context) (string, error) {
		prev = agent.StepOf(ctx).PreviousOutcome
		return "ok", nil
	})
	if err != nil || got != "ok" || prev != api.PreviousOutcomeUnknown {
		t.Fatalf("second attempt: %q, %v, previous outcome %q", got, err, prev)
	}
	if s := f.Step("call"); s.Runs != 2 {
		t.Fatalf("runs = %d", s.Runs)
	}
}

// A Permanent error is recorded: every replay returns it, as a *StepError,
// without running the step; it exits 78.
func TestRunPermanentFailureReplays(t *testing.T) {
	f := agenttest.New(t)
	_, err := agent.Run(ctxOf(f), "parse", func(context.Context) (int, error) {
		return 0, agent.Permanent(errors.New("not a PDF"))
	})
	if !agent.IsPermanent(err) || agent.ExitCode(err) != agent.ExitPermanent {
		t.Fatalf("Run = %v (exit %d)", err, agent.ExitCode(err))
	}
	f.NextAttempt()
	_, err = agent.Run(ctxOf(f), "parse", func(context.Context) (int, error) {
		t.Fatal("a recorded failure ran again")
		return 0, nil
	})
	var se *agent.StepError
	if !errors.As(err, &se) || se.Key != "parse" || se.Message != "not a PDF" || agent.ExitCode(err) != agent.ExitPermanent {
		t.Fatalf("replay = %v (%T, exit %d)", err, err, agent.ExitCode(err))
	}
	if agent.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
}

// An at-most-once step in flight when its attempt died is not run again:
// the task waits for an operator.
func TestRunAtMostOnce(t *testing.T) {
	f := agenttest.New(t)
	_, _ = agent.Run(ctxOf(f), "charge", func(context.Context) (int, error) { return 0, errors.New("died") }, agent.AtMostOnce())
	f.NextAttempt()
	_, err := agent.Run(ctxOf(f), "charge", func(context.Context) (int, error) {
		t.Fatal("an at-most-once step ran twice")
		return 0, nil
	}, agent.AtMostOnce())
	if !errors.Is(err, agent.ErrSuspended) || agent.ExitCode(err) != agent.ExitSuspended || !strings.Contains(err.Error(), "operator") {
		t.Fatalf("Run = %v (exit %d), want suspended for an operator", err, agent.ExitCode(err))
	}
}

// A replay whose input hash changed is refused (the program is not
// deterministic): an endpoint error, exit 1.
func TestRunInputHash(t *testing.T) {
	f := agenttest.New(t)
	one := func(context.Context) (int, error) { return 1, nil }
	if _, err := agent.Run(ctxOf(f), "sum", one, agent.InputHash("h1")); err != nil {
		t.Fatal(err)
	}
	f.NextAttempt()
	if v, err := agent.Run(ctxOf(f), "sum", one, agent.InputHash("h1")); err != nil || v != 1 {
		t.Fatalf("same hash: %d, %v", v, err)
	}
	f.NextAttempt()
	_, err := agent.Run(ctxOf(f), "sum", one, agent.InputHash("h2"))
	if err == nil || !strings.Contains(err.Error(), "409") || agent.ExitCode(err) != agent.ExitError {
		t.Fatalf("another hash: %v (exit %d), want a 409", err, agent.ExitCode(err))
	}
}

// At the budget a run step does not begin: ErrSuspended, exit 75, and
// every later call of the attempt answers the same.
func TestRunBudgetSuspends(t *testing.T) {
	f := agenttest.New(t)
	f.SetBudget("task budget $0.05 reached")
	_, err := agent.Run(ctxOf(f), "llm", func(context.Context) (int, error) {
		t.Fatal("a step began over the budget")
		return 0, nil
	})
	if !errors.Is(err, agent.ErrSuspended) || agent.ExitCode(err) != agent.ExitSuspended || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("Run = %v (exit %d)", err, agent.ExitCode(err))
	}
	f.SetBudget("")
	if err := agent.Sleep(ctxOf(f), "nap", time.Second); !errors.Is(err, agent.ErrSuspended) {
		t.Fatalf("a call after the suspend: %v", err)
	}
	f.NextAttempt()
	if v, err := agent.Run(ctxOf(f), "llm", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
		t.Fatalf("after the budget was raised: %d, %v", v, err)
	}
}

// The attempt ending while a step runs (cancelled): its end answers stop,
// Run returns ErrSuspended.
func TestRunStoppedDuringStep(t *testing.T) {
	f := agenttest.New(t)
	_, err := agent.Run(ctxOf(f), "long", func(context.Context) (int, error) {
		f.Stop("cancelled")
		return 1, nil
	})
	if !errors.Is(err, agent.ErrSuspended) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("Run = %v", err)
	}
}

// A recorded output that does not decode into T is an error, not a zero.
func TestRunOutputOfAnotherType(t *testing.T) {
	f := agenttest.New(t)
	if _, err := agent.Run(ctxOf(f), "x", func(context.Context) (string, error) { return "text", nil }); err != nil {
		t.Fatal(err)
	}
	f.NextAttempt()
	if _, err := agent.Run(ctxOf(f), "x", func(context.Context) (int, error) { return 0, nil }); err == nil || !strings.Contains(err.Error(), "recorded output") {
		t.Fatalf("Run = %v", err)
	}
}

// A short sleep is slept in place and recorded; a long one suspends, and
// the next attempt finds it done.
func TestSleep(t *testing.T) {
	f := agenttest.New(t)
	ctx := ctxOf(f)
	if err := agent.Sleep(ctx, "short", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if s := f.Step("short"); s.Kind != api.StepRun || string(s.Output) != `{"slept_ms":2000}` {
		t.Fatalf("short sleep: %+v", s)
	}
	err := agent.Sleep(ctx, "long", time.Hour)
	if !errors.Is(err, agent.ErrSuspended) || agent.ExitCode(err) != agent.ExitSuspended {
		t.Fatalf("long sleep: %v", err)
	}
	f.NextAttempt()
	ctx = ctxOf(f)
	if err := agent.Sleep(ctx, "short", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := agent.Sleep(ctx, "long", time.Hour); err != nil {
		t.Fatalf("the long sleep after its attempt: %v", err)
	}
}

// A wait suspends until its signal comes, then answers its data; a
// signal sent first answers at once; a timeout is ErrTimeout, exit 7.
func TestWait(t *testing.T) {
	f := agenttest.New(t)
	_, err := agent.Wait(ctxOf(f), "approve", "approve", time.Hour)
	if !errors.Is(err, agent.ErrSuspended) || !strings.Contains(err.Error(), "signal: approve") {
		t.Fatalf("Wait without a signal: %v", err)
	}
	f.Signal("approve", `{"ok":true}`)
	f.NextAttempt()
	data, err := agent.Wait(ctxOf(f), "approve", "approve", time.Hour)
	if err != nil || string(data) != `{"ok":true}` {
		t.Fatalf("Wait after the signal: %s, %v", data, err)
	}

	f.Signal("early", `"first"`)
	if data, err := agent.Wait(ctxOf(f), "early", "early", 0); err != nil || string(data) != `"first"` {
		t.Fatalf("a signal sent before its wait: %s, %v", data, err)
	}

	f.TimeOut("late")
	_, err = agent.Wait(ctxOf(f), "late", "late", 500*time.Millisecond)
	if !errors.Is(err, agent.ErrTimeout) || agent.ExitCode(err) != agent.ExitTimeout {
		t.Fatalf("a wait that timed out: %v (exit %d)", err, agent.ExitCode(err))
	}
	if _, err := agent.Wait(ctxOf(f), "nameless", "", 0); err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("a wait without a signal name: %v", err)
	}
}

// A spawn without wait answers the child's id at once; with wait the task
// waits for the child and a later attempt gets its output, or a permanent
// error naming its state.
func TestSpawn(t *testing.T) {
	f := agenttest.New(t)
	out, err := agent.Spawn(ctxOf(f), "child-a", "etl", map[string]int{"n": 1}, false)
	if err != nil || string(out) != `{"task_id":"task_child1"}` {
		t.Fatalf("spawn: %s, %v", out, err)
	}
	if q, in := f.ChildInput("task_child1"); q != "etl" || string(in) != `{"n":1}` {
		t.Fatalf("child: %s %s", q, in)
	}
	_, err = agent.Spawn(ctxOf(f), "child-b", "", []int{2}, true)
	if !errors.Is(err, agent.ErrSuspended) || !strings.Contains(err.Error(), "child: task_child2") {
		t.Fatalf("spawn with wait: %v", err)
	}
	f.EndChild("task_child2", `{"sum":2}`, "")
	f.NextAttempt()
	if _, err := agent.Spawn(ctxOf(f), "child-a", "etl", map[string]int{"n": 1}, false); err != nil {
		t.Fatal(err)
	}
	out, err = agent.Spawn(ctxOf(f), "child-b", "", []int{2}, true)
	if err != nil || string(out) != `{"sum":2}` {
		t.Fatalf("joined: %s, %v", out, err)
	}
	_, _ = agent.Spawn(ctxOf(f), "child-c", "", nil, true)
	f.EndChild("task_child3", "", "failed")
	f.NextAttempt()
	for _, k := range []string{"child-a", "child-b"} {
		_, _ = agent.Spawn(ctxOf(f), k, "", nil, false)
	}
	_, err = agent.Spawn(ctxOf(f), "child-c", "", nil, true)
	if !agent.IsPermanent(err) || !strings.Contains(err.Error(), "task_child3 failed") {
		t.Fatalf("a failed child: %v", err)
	}
	if !slices.Equal(f.Children(), []string{"task_child1", "task_child2", "task_child3"}) {
		t.Fatalf("children: %v", f.Children())
	}
	if _, err := agent.Spawn(ctxOf(f), "bad", "", func() {}, false); err == nil || !strings.Contains(err.Error(), "input") {
		t.Fatalf("an input that is not JSON: %v", err)
	}
}

// Emit sends lines (on a channel); Usage is charged to the step that is
// open; Info describes the attempt.
func TestEmitUsageInfo(t *testing.T) {
	f := agenttest.New(t)
	ctx := ctxOf(f)
	if err := agent.Emit(ctx, "llm", "Hel", "lo"); err != nil {
		t.Fatal(err)
	}
	if err := agent.Emit(ctx, "", "plain"); err != nil {
		t.Fatal(err)
	}
	if got := f.Emitted(); !slices.Equal(got, []string{"[llm] Hel", "[llm] lo", "plain"}) {
		t.Fatalf("emitted %q", got)
	}
	_, err := agent.Run(ctx, "llm", func(ctx context.Context) (int, error) {
		return 0, agent.Usage(ctx, 1200, 31_000)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.Usage(ctx, 5, 0); err != nil {
		t.Fatal(err)
	}
	if s := f.Step("llm"); s.Usage != (api.UsageReport{Tokens: 1200, CostMicros: 31_000}) {
		t.Fatalf("step usage %+v", s.Usage)
	}
	if u := f.Usage(); u.Tokens != 1205 {
		t.Fatalf("attempt usage %+v", u)
	}
	if err := agent.Usage(ctx, -1, 0); err == nil {
		t.Fatal("negative usage accepted")
	}
	info, err := agent.Info(ctx)
	if err != nil || info != (agent.AttemptInfo{TaskID: agenttest.TaskID, Attempt: 1, Queue: "default", WorkspaceID: "ws_agenttest"}) {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}

// Without BATON_STEP_URL every function says so (exit 2); with it, they
// use the environment's endpoint; a wrong token exits 4.
func TestEnvironment(t *testing.T) {
	t.Setenv(agent.EnvStepURL, "")
	t.Setenv(agent.EnvStepToken, "")
	ctx := context.Background()
	calls := map[string]func() error{
		"Run": func() error {
			_, err := agent.Run(ctx, "k", func(context.Context) (int, error) { return 0, nil })
			return err
		},
		"Sleep": func() error { return agent.Sleep(ctx, "k", time.Second) },
		"Wait":  func() error { _, err := agent.Wait(ctx, "k", "s", 0); return err },
		"Spawn": func() error { _, err := agent.Spawn(ctx, "k", "", nil, false); return err },
		"Emit":  func() error { return agent.Emit(ctx, "", "x") },
		"Usage": func() error { return agent.Usage(ctx, 1, 0) },
		"Info":  func() error { _, err := agent.Info(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, agent.ErrNoSupervisor) || agent.ExitCode(err) != agent.ExitUsage {
			t.Errorf("%s without an endpoint: %v (exit %d)", name, err, agent.ExitCode(err))
		}
	}

	f := agenttest.New(t)
	t.Setenv(agent.EnvStepURL, f.URL())
	t.Setenv(agent.EnvStepToken, agenttest.Token)
	if info, err := agent.Info(ctx); err != nil || info.TaskID != agenttest.TaskID {
		t.Fatalf("Info from the environment: %+v, %v", info, err)
	}
	t.Setenv(agent.EnvStepToken, "wrong")
	for name, call := range calls {
		if err := call(); !errors.Is(err, agent.ErrBadToken) || agent.ExitCode(err) != agent.ExitBadToken {
			t.Errorf("%s with a wrong token: %v (exit %d)", name, err, agent.ExitCode(err))
		}
	}
}

// Every exit code of ExitCode, wrapped errors too.
func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{agent.ErrNoSupervisor, 2},
		{fmt.Errorf("a: %w", agent.ErrBadToken), 4},
		{fmt.Errorf("a: %w", agent.ErrTimeout), 7},
		{fmt.Errorf("a: %w", agent.ErrSuspended), 75},
		{agent.Permanent(errors.New("x")), 78},
		{fmt.Errorf("wrapped: %w", agent.Permanent(&agent.StepError{Key: "k", Message: "m"})), 78},
	} {
		if got := agent.ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// The endpoint's errors reach the caller with their message and status; an
// answer that is not JSON, or an unknown action, is an error.
func TestEndpointErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case agent.PathBegin:
			var req agent.BeginRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			switch req.Key {
			case "gateway":
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte(`{"code":"server_error","error":"server unreachable"}`))
			case "plain":
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte("oops\n"))
			case "garbage":
				_, _ = w.Write([]byte("not json"))
			default:
				_, _ = w.Write([]byte(`{"action":"dance","key":"` + req.Key + `"}`))
			}
		}
	}))
	defer srv.Close()
	ctx := agent.WithClient(context.Background(), agent.NewClient(srv.URL, "t", nil))
	run := func(key string) error {
		_, err := agent.Run(ctx, key, func(context.Context) (int, error) { return 0, nil })
		return err
	}
	for key, want := range map[string]string{
		"gateway": "server unreachable (502 server_error)",
		"plain":   "oops (500 )",
		"garbage": "answer:",
		"odd":     `action "dance"`,
	} {
		if err := run(key); err == nil || !strings.Contains(err.Error(), want) || agent.ExitCode(err) != 1 {
			t.Errorf("%s: %v, want %q", key, err, want)
		}
	}
	if err := agent.Emit(agent.WithClient(context.Background(), agent.NewClient("http://127.0.0.1:1", "t", nil)), "", "x"); err == nil {
		t.Error("a call to a closed port succeeded")
	}
}

// A fan-out: Start answers each child's id at once; Join waits for the
// children in order, a replay answering those that ended at once, and
// returns how each ended (a failure is an outcome, not an error).
func TestStartAndJoin(t *testing.T) {
	f := agenttest.New(t)
	fan := func() ([]agent.Child, error) {
		var ids []string
		for i := range 3 {
			id, err := agent.Start(ctxOf(f), fmt.Sprintf("part-%d", i), "parts", map[string]int{"i": i})
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
		return agent.Join(ctxOf(f), "parts", ids...)
	}
	if _, err := fan(); !errors.Is(err, agent.ErrSuspended) || !strings.Contains(err.Error(), "signal: child:task_child1") {
		t.Fatalf("Join of running children: %v, want ErrSuspended for the first", err)
	}
	if q, in := f.ChildInput("task_child3"); q != "parts" || string(in) != `{"i":2}` {
		t.Fatalf("third child: %s %s", q, in)
	}
	// The second and third end first: their signals are kept.
	f.EndChild("task_child3", `"c"`, "")
	f.EndChild("task_child2", "", "boom")
	f.EndChild("task_child2", `"again"`, "") // a child ends once
	f.NextAttempt()
	if _, err := fan(); !errors.Is(err, agent.ErrSuspended) {
		t.Fatalf("Join with the first child running: %v", err)
	}
	f.EndChild("task_child1", `{"a":1}`, "")
	f.NextAttempt()
	got, err := fan()
	if err != nil || len(got) != 3 {
		t.Fatalf("Join after the children ended: %+v, %v", got, err)
	}
	want := []agent.Child{
		{TaskID: "task_child1", Status: api.TaskSucceeded, Output: json.RawMessage(`{"a":1}`)},
		{TaskID: "task_child2", Status: api.TaskFailed, Output: json.RawMessage(`null`), Error: "boom"},
		{TaskID: "task_child3", Status: api.TaskSucceeded, Output: json.RawMessage(`"c"`)},
	}
	for i, w := range want {
		g := got[i]
		if g.TaskID != w.TaskID || g.Status != w.Status || string(g.Output) != string(w.Output) || g.Error != w.Error {
			t.Errorf("child %d = %+v (output %s), want %+v", i, g, g.Output, w)
		}
	}
	if got[0].Err() != nil || got[1].Err() == nil || !strings.Contains(got[1].Err().Error(), "task_child2 failed: boom") {
		t.Errorf("Err: %v, %v", got[0].Err(), got[1].Err())
	}
	if k := f.Keys(); !slices.Contains(k, "parts/task_child1") || !slices.Contains(k, "parts/task_child3") {
		t.Errorf("journal keys %v, want a wait step parts/ID per child", k)
	}
	if _, err := agent.Join(context.Background(), "parts", "task_child1"); !errors.Is(err, agent.ErrNoSupervisor) {
		t.Errorf("Join without a supervisor: %v", err)
	}
}
