package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/supervisor"
	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// The steps scenario (issue 14): durable steps as an agent sees them. A
// real server (in process) and a real `baton worker run` supervisor (in
// process, internal/supervisor) run this binary again as the agent
// (stepAgentEnv set), which uses pkg/agent: every step call goes agent →
// the attempt's step endpoint (HTTP on 127.0.0.1) → the server → back.
//
// Each agent task runs N steps (keys s1 … sN, each returning its number)
// in attempt 1, timing each, then waits for signal "go": the attempt ends
// as suspended. The bench signals it; attempt 2 replays the N steps (the
// journal answers, nothing runs) and the wait, and succeeds. Each attempt
// writes its timings to DIR/attempt-A.json.
//
//   - round trip: one task of N steps at a time: p50/p99 of a new step
//     (begin + end) and of a replayed step (begin);
//   - steps/s: C tasks of M steps at once (a worker of C slots): all steps
//     over the window from the first step's start to the last one's end.

// stepAgentEnv makes this binary the agent.
const stepAgentEnv = "BATON_BENCH_STEP_AGENT"

const (
	stepQueue  = "steps"
	stepSignal = "go"
)

// stepAgentInput is an agent task's input.
type stepAgentInput struct {
	N   int    `json:"n"`
	Dir string `json:"dir"`
}

// stepAttempt is what an attempt of the agent measured.
type stepAttempt struct {
	Attempt int     `json:"attempt"`
	StartNS int64   `json:"start_ns"` // wall clock before the first step
	EndNS   int64   `json:"end_ns"`   // after the last
	Steps   []int64 `json:"steps_ns"` // each step's round trip
	Sum     int     `json:"sum"`      // of the steps' values: 0 + … + N-1
}

// stepAgent is the agent's main: its exit code.
func stepAgent() int {
	ctx := context.Background()
	err := runStepAgent(ctx)
	if err != nil && !errors.Is(err, agent.ErrSuspended) {
		fmt.Fprintln(os.Stderr, "step agent:", err)
	}
	return agent.ExitCode(err)
}

func runStepAgent(ctx context.Context) error {
	var in stepAgentInput
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil || in.N <= 0 || in.Dir == "" {
		return agent.Permanent(fmt.Errorf("input: want {n, dir}: %v", err))
	}
	a := stepAttempt{Steps: make([]int64, in.N)}
	a.Attempt, _ = strconv.Atoi(os.Getenv("BATON_ATTEMPT"))
	a.StartNS = time.Now().UnixNano()
	for i := range in.N {
		t0 := time.Now()
		v, err := agent.Run(ctx, "s"+strconv.Itoa(i+1), func(context.Context) (int, error) { return i, nil })
		a.Steps[i] = int64(time.Since(t0))
		if err != nil {
			return err
		}
		a.Sum += v
	}
	a.EndNS = time.Now().UnixNano()
	b, _ := json.Marshal(a)
	if err := os.WriteFile(filepath.Join(in.Dir, fmt.Sprintf("attempt-%d.json", a.Attempt)), b, 0o644); err != nil {
		return err
	}
	if _, err := agent.Wait(ctx, "go", stepSignal, 0); err != nil {
		return err // attempt 1: suspended until the bench signals
	}
	fmt.Println(`{"ok": true}`)
	return nil
}

// stepRun is one store's numbers of one run.
type stepRun struct {
	newRT, replayRT      []time.Duration // round trips of the latency task
	newRate, replayRate  float64         // steps/s of the concurrent agents
	newWindow, repWindow time.Duration
}

type stepsResult struct {
	store string
	runs  []stepRun
	load  [2]float64 // 1-minute load average before and after
}

// stepSizes: N steps of the latency task; C agents of M steps.
type stepSizes struct{ n, c, m int }

func (o opts) stepSizes() stepSizes {
	return stepSizes{n: o.pick(50, 300), c: o.pick(4, 8), m: o.pick(10, 50)}
}

func runSteps(ctx context.Context, o opts, r *report) error {
	var results []stepsResult
	for _, st := range o.stores {
		res, err := stepsStore(ctx, o, st)
		if err != nil {
			return fmt.Errorf("steps %s: %w", st, err)
		}
		results = append(results, res)
	}
	r.section("steps", renderSteps(o, results, r))
	return nil
}

func stepsStore(ctx context.Context, o opts, store string) (stepsResult, error) {
	res := stepsResult{store: store}
	res.load[0], _ = loadavg()
	sz := o.stepSizes()
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	dbURL := ""
	if store == "postgres" {
		db, err := newPGDatabase(ctx, o.pg, "steps")
		if err != nil {
			return res, err
		}
		defer db.drop()
		dbURL = db.url
	}
	b, err := startBaton(ctx, dbURL, nil)
	if err != nil {
		return res, err
	}
	defer b.close()
	c, ws, key, err := b.workspace(ctx, "steps", benchTier)
	if err != nil {
		return res, err
	}
	wc, err := b.client(key, ws)
	if err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp("", "baton-bench-steps-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() {
		workerDone <- supervisor.Run(wctx, supervisor.Config{API: wc, Command: []string{self},
			Env: append(os.Environ(), stepAgentEnv+"=1"), Queues: []string{stepQueue}, Concurrency: sz.c,
			WorkerID: "bench-steps", WaitSeconds: 5, KillGrace: 5 * time.Second, DrainTimeout: 10 * time.Second,
			Log: quietLogger()})
	}()
	defer func() {
		stopWorker()
		<-workerDone
	}()
	logf("steps %s: baton at %s; %d-step round trips, %d agents × %d steps", store, b.url, sz.n, sz.c, sz.m)

	seq := 0
	batch := func(agents, n int) ([]stepAttempt, []stepAttempt, error) {
		seq++
		return runStepBatch(ctx, c, filepath.Join(dir, strconv.Itoa(seq)), agents, n)
	}
	for i := range o.runs {
		var sr stepRun
		first, second, err := batch(1, sz.n)
		if err != nil {
			return res, err
		}
		sr.newRT, sr.replayRT = durations(first[0].Steps), durations(second[0].Steps)
		first, second, err = batch(sz.c, sz.m)
		if err != nil {
			return res, err
		}
		var steps int
		steps, sr.newWindow = stepWindow(first)
		sr.newRate = float64(steps) / sr.newWindow.Seconds()
		steps, sr.repWindow = stepWindow(second)
		sr.replayRate = float64(steps) / sr.repWindow.Seconds()
		logf("  run %d: new p50 %s p99 %s, replay p50 %s p99 %s; %d agents: new %.0f steps/s, replayed %.0f steps/s", i+1,
			ms(percentile(sr.newRT, 50)), ms(percentile(sr.newRT, 99)), ms(percentile(sr.replayRT, 50)), ms(percentile(sr.replayRT, 99)),
			sz.c, sr.newRate, sr.replayRate)
		res.runs = append(res.runs, sr)
	}
	if e := b.errors.n.Load(); e > 0 {
		logf("  %d ERROR log lines, first: %s", e, strings.Join(b.errors.first, "\n"))
	}
	noteErrors(store+" steps", b.errors.n.Load())
	res.load[1], _ = loadavg()
	return res, nil
}

// runStepBatch submits agents tasks of n steps, waits until each waits
// for its signal, signals them all, waits until they succeed, and returns
// what their attempts 1 (new steps) and 2 (replays) measured.
func runStepBatch(ctx context.Context, c *client.Client, dir string, agents, n int) (first, second []stepAttempt, err error) {
	ids := make([]string, agents)
	dirs := make([]string, agents)
	for i := range agents {
		dirs[i] = filepath.Join(dir, strconv.Itoa(i))
		if err := os.MkdirAll(dirs[i], 0o755); err != nil {
			return nil, nil, err
		}
		in, _ := json.Marshal(stepAgentInput{N: n, Dir: dirs[i]})
		t, err := c.SubmitTask(ctx, api.SubmitTaskRequest{Queue: stepQueue, Input: in, MaxAttempts: 3}, "")
		if err != nil {
			return nil, nil, fmt.Errorf("submit: %w", err)
		}
		ids[i] = t.ID
	}
	// A new step takes some ms: two minutes bounds a batch of any size here.
	deadline := time.Now().Add(2*time.Minute + time.Duration(agents*n)*50*time.Millisecond)
	if err := awaitStatus(ctx, c, ids, api.TaskWaiting, deadline); err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		if _, err := c.Signal(ctx, id, stepSignal, []byte(`{}`), ""); err != nil {
			return nil, nil, fmt.Errorf("signal %s: %w", id, err)
		}
	}
	if err := awaitStatus(ctx, c, ids, api.TaskSucceeded, deadline); err != nil {
		return nil, nil, err
	}
	want := n * (n - 1) / 2
	for i, d := range dirs {
		var a [2]stepAttempt
		for k := range a {
			b, err := os.ReadFile(filepath.Join(d, fmt.Sprintf("attempt-%d.json", k+1)))
			if err != nil {
				return nil, nil, fmt.Errorf("task %s: %w", ids[i], err)
			}
			if err := json.Unmarshal(b, &a[k]); err != nil {
				return nil, nil, err
			}
			if a[k].Sum != want || len(a[k].Steps) != n {
				return nil, nil, fmt.Errorf("task %s attempt %d: sum %d of %d steps, want %d of %d", ids[i], k+1, a[k].Sum, len(a[k].Steps), want, n)
			}
		}
		first, second = append(first, a[0]), append(second, a[1])
	}
	return first, second, nil
}

// awaitStatus polls the tasks until all are in status, one ends otherwise,
// or the deadline passes.
func awaitStatus(ctx context.Context, c *client.Client, ids []string, status string, deadline time.Time) error {
	for _, id := range ids {
		for {
			t, err := c.GetTask(ctx, id)
			if err != nil {
				return err
			}
			if t.Status == status {
				break
			}
			if api.IsTerminal(t.Status) {
				return fmt.Errorf("task %s ended %s (%s), want %s", id, t.Status, t.Error, status)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("task %s still %s (%s) at the deadline, want %s", id, t.Status, t.StatusReason, status)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// stepWindow is the steps the attempts ran and the wall-clock window from
// the first one's start to the last one's end.
func stepWindow(as []stepAttempt) (steps int, window time.Duration) {
	if len(as) == 0 {
		return 0, 0
	}
	lo, hi := as[0].StartNS, as[0].EndNS
	for _, a := range as {
		steps += len(a.Steps)
		lo, hi = min(lo, a.StartNS), max(hi, a.EndNS)
	}
	return steps, time.Duration(hi - lo)
}

func durations(ns []int64) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, v := range ns {
		out[i] = time.Duration(v)
	}
	return out
}

// loadavg is the 1-minute load average (/proc/loadavg).
func loadavg() (float64, bool) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	return parseLoadavg(string(b))
}

func parseLoadavg(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

func renderSteps(o opts, rs []stepsResult, r *report) string {
	sz := o.stepSizes()
	var b strings.Builder
	fmt.Fprintf(&b, "## Durable steps (`go run . %ssteps`)\n\n", o.flagText())
	fmt.Fprintf(&b, "Steps as an agent sees them: a Go agent using `pkg/agent` (this binary again) runs under the supervisor of `baton worker run` (`internal/supervisor`, in process), whose per-attempt step endpoint (HTTP on 127.0.0.1) forwards each call to a baton server in process (HTTP on 127.0.0.1). A **new** step is `agent.Run`'s begin + end (two round trips, two transactions); a **replayed** step is its begin in the next attempt, answered from the journal (nothing runs or is metered). Each task runs its steps in attempt 1, then waits for a signal (the attempt ends as suspended); the signal wakes it and attempt 2 replays them. Round trips: one task of %d steps at a time, the samples of %s pooled. Steps/s: %d tasks of %d steps at once on a worker of %d slots, all their steps over the window from the first step's start to the last one's end (agents start a little apart, so this includes their ramp); the median of %s, min–max in brackets.\n\n",
		sz.n, plural(o.runs, "run"), sz.c, sz.m, sz.c, plural(o.runs, "run"))
	t := table{header: []string{"", "new step (begin + end)", "replayed step (begin)"}}
	for _, res := range rs {
		var newRT, repRT []time.Duration
		var newRate, repRate []float64
		for _, sr := range res.runs {
			newRT, repRT = append(newRT, sr.newRT...), append(repRT, sr.replayRT...)
			newRate, repRate = append(newRate, sr.newRate), append(repRate, sr.replayRate)
		}
		t.add(res.store+" round trip p50 / p99", ms(percentile(newRT, 50))+" / "+ms(percentile(newRT, 99)), ms(percentile(repRT, 50))+" / "+ms(percentile(repRT, 99)))
		t.add(fmt.Sprintf("%s steps/s, %d agents", res.store, sz.c), rateRange(newRate), rateRange(repRate))
		r.headline = append(r.headline, fmt.Sprintf("%s steps: new p50/p99 %s/%s, replayed %s/%s; %d agents %s new, %s replayed",
			res.store, ms(percentile(newRT, 50)), ms(percentile(newRT, 99)), ms(percentile(repRT, 50)), ms(percentile(repRT, 99)),
			sz.c, rate(median(newRate)), rate(median(repRate))))
	}
	b.WriteString(t.String())
	var loads []string
	for _, res := range rs {
		loads = append(loads, fmt.Sprintf("%s %.1f → %.1f", res.store, res.load[0], res.load[1]))
	}
	fmt.Fprintf(&b, "\nRun %s. 1-minute load average before → after each store's part: %s, on %d cores: the machine was shared with other work whenever it is above the core count, so compare these numbers with care.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.Join(loads, ", "), runtime.NumCPU())
	return b.String()
}

// rateRange is "median/s (min–max)" of per-run rates.
func rateRange(xs []float64) string {
	if len(xs) == 0 {
		return "–"
	}
	lo, hi := xs[0], xs[0]
	for _, v := range xs {
		lo, hi = min(lo, v), max(hi, v)
	}
	if len(xs) == 1 {
		return rate(xs[0])
	}
	return fmt.Sprintf("%s (%s–%s)", rate(median(xs)), thousands(lo), thousands(hi))
}

// plural is "1 run", "3 runs".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
