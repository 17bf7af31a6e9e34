package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

func TestConcurrency(t *testing.T) {
	f := newFake()
	h := start(t, f, `touch "$DIR/started-$BATON_TASK_ID"
i=0; while [ ! -f "$DIR/go" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done`, func(c *Config) { c.Concurrency = 3 })
	for i := range 4 {
		f.push(api.Task{ID: fmt.Sprintf("t%d", i)})
	}
	started := func() int { m, _ := filepath.Glob(h.file("started-*")); return len(m) }
	testutil.Eventually(t, 10*time.Second, "3 agents to run at once", func() bool { return started() == 3 })
	claims, _, _, _, _ := f.snapshot()
	if len(claims) != 1 || claims[0].MaxTasks != 3 {
		t.Fatalf("claims while all slots are busy = %+v", claims)
	}
	f.mu.Lock()
	queued := len(f.queue)
	f.mu.Unlock()
	if queued != 1 || started() != 3 {
		t.Fatalf("%d queued, %d started", queued, started())
	}
	if err := os.WriteFile(h.file("go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "all 4 tasks", func() bool { return f.finished() == 4 })
}

// On shutdown the worker stops claiming, lets a task that ends within the
// drain timeout complete, and kills and fails (retryable) one that does not.
func TestDrain(t *testing.T) {
	f := newFake()
	drain := 1500 * time.Millisecond
	h := start(t, f, `case "$BATON_TASK_ID" in
fast) touch "$DIR/fast-started"
  i=0; while [ ! -f "$DIR/finish" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
  echo '"fast done"';;
slow) echo $$ > "$DIR/slow-pid"; exec sleep 300;;
esac`, func(c *Config) { c.Concurrency, c.DrainTimeout, c.KillGrace = 2, drain, 5*time.Second })
	f.push(api.Task{ID: "fast"}, api.Task{ID: "slow"})
	pid := h.readPid("slow-pid")
	testutil.Eventually(t, 10*time.Second, "the fast task to start", func() bool { return exists(h.file("fast-started")) })
	claims, _, _, _, _ := f.snapshot()

	h.cancel()
	begun := time.Now()
	if err := os.WriteFile(h.file("finish"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f.push(api.Task{ID: "late"}) // must not be claimed
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if took := time.Since(begun); took < drain {
		t.Errorf("Run returned after %s, before the drain timeout", took)
	}
	after, _, _, completes, fails := f.snapshot()
	if len(after) != len(claims) {
		t.Errorf("claimed while draining: %d claims, then %d", len(claims), len(after))
	}
	if len(completes) != 1 || completes[0].ID != "fast" || string(completes[0].Complete.Output) != `"fast done"` {
		t.Errorf("completes = %+v", completes)
	}
	if len(fails) != 1 || fails[0].ID != "slow" || fails[0].Fail.Error != "worker shutting down" || !fails[0].Fail.Retryable {
		t.Errorf("fails = %+v", fails)
	}
	if !gone(pid) {
		t.Error("the slow agent still runs")
	}
}

func TestDrainCleanIsQuick(t *testing.T) {
	f := newFake()
	h := start(t, f, `echo '"x"'`, func(c *Config) { c.DrainTimeout = time.Hour })
	f.push(api.Task{ID: "a"})
	testutil.Eventually(t, 10*time.Second, "the task", func() bool { return f.finished() == 1 })
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
}

// fakeClock is the sleep hook: it advances fake time instead of waiting, and
// cancels the run once limit has passed.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Duration
	waits  []time.Duration
	limit  time.Duration
	cancel context.CancelFunc
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now += d
	c.waits = append(c.waits, d)
	over := c.limit > 0 && c.now >= c.limit
	c.mu.Unlock()
	if over {
		c.cancel()
	}
	return ctx.Err()
}

func (c *fakeClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

func runFor(t *testing.T, f *fakeAPI, limit time.Duration, edit func(*Config)) (*fakeClock, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	clock := &fakeClock{limit: limit, cancel: cancel}
	cfg := baseConfig(f, &testutil.SyncBuffer{}, "true")
	cfg.sleep = clock.sleep
	if edit != nil {
		edit(&cfg)
	}
	err := Run(ctx, cfg)
	if ctx.Err() == context.DeadlineExceeded {
		t.Fatal("Run did not stop within the fake period")
	}
	return clock, err
}

var refused = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

// Claim errors back off exponentially with jitter, capped at 30s: in two
// fake minutes there are a handful of claims, not a hot loop.
func TestClaimBackoff(t *testing.T) {
	for name, claimErr := range map[string]error{
		"refused": refused,
		"503":     &client.APIError{Status: 503, Code: api.CodeUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.claimErr = func(int) error { return claimErr }
			clock, err := runFor(t, f, 2*time.Minute, nil)
			if err != nil {
				t.Fatal(err)
			}
			claims, _, _, _, _ := f.snapshot()
			waits := clock.recorded()
			if len(claims) < 5 || len(claims) > 14 {
				t.Errorf("%d claims in 2 fake minutes (waits %v)", len(claims), waits)
			}
			for i, w := range waits {
				if w < 250*time.Millisecond || w > 30*time.Second {
					t.Errorf("wait %d = %s", i, w)
				}
				if i >= 6 && w < 15*time.Second {
					t.Errorf("wait %d = %s, want the capped backoff", i, w)
				}
			}
		})
	}
}

func TestClaimBackoffHonoursRetryAfterAndResets(t *testing.T) {
	f := newFake()
	f.claimErr = func(n int) error {
		switch {
		case n == 1:
			return &client.APIError{Status: 429, Code: api.CodeRateLimited, RetryAfter: 7 * time.Second}
		case n <= 3, n == 5:
			return refused
		}
		return nil
	}
	f.push(api.Task{ID: "a"})
	clock := &fakeClock{}
	h := start(t, f, "true", func(c *Config) { c.sleep = clock.sleep })
	testutil.Eventually(t, 10*time.Second, "the task and 6 claims", func() bool {
		c, _, _, _, _ := f.snapshot()
		return f.finished() == 1 && len(c) >= 6
	})
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	w := clock.recorded()
	if len(w) < 4 || w[0] < 7*time.Second || w[2] < time.Second || w[3] > 500*time.Millisecond {
		t.Errorf("waits = %v: want Retry-After first, growth, then a reset after success", w)
	}
}

func TestClaimPermanentErrorStops(t *testing.T) {
	f := newFake()
	f.claimErr = func(int) error { return &client.APIError{Status: 401, Code: api.CodeUnauthenticated} }
	_, err := runFor(t, f, 0, nil)
	if !client.IsCode(err, api.CodeUnauthenticated) {
		t.Fatalf("Run = %v", err)
	}
}

// A server that answers empty polls at once does not make a hot loop.
func TestEmptyClaimsPause(t *testing.T) {
	f := newFake()
	f.instant = true
	clock, err := runFor(t, f, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims, _, _, _, _ := f.snapshot()
	if len(claims) > 240 || len(clock.recorded()) < len(claims)-1 {
		t.Errorf("%d claims, %d pauses in a fake minute", len(claims), len(clock.recorded()))
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFake()
	for name, cfg := range map[string]Config{
		"no api":     {Command: []string{"true"}},
		"no command": {API: f},
		"not found":  {API: f, Command: []string{"/nonexistent/agent"}},
	} {
		if err := Run(context.Background(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRunner(t *testing.T) {
	f := newFake()
	runner := func(ctx context.Context, task api.Task) (json.RawMessage, api.UsageReport, error) {
		switch task.ID {
		case "fatal":
			return nil, api.UsageReport{Tokens: 5}, fmt.Errorf("%w: bad input", ErrFatal)
		case "flaky":
			return nil, api.UsageReport{}, fmt.Errorf("upstream 502")
		case "panic":
			panic("boom")
		case "block":
			<-ctx.Done()
			return nil, api.UsageReport{}, ctx.Err()
		}
		return EchoRunner(ctx, task)
	}
	h := start(t, f, "", func(c *Config) {
		c.Command, c.Runner, c.Concurrency, c.DrainTimeout = nil, runner, 5, 100*time.Millisecond
	})
	f.push(api.Task{ID: "echo", Input: json.RawMessage(`{"n":1}`)}, api.Task{ID: "fatal"}, api.Task{ID: "flaky"},
		api.Task{ID: "panic"}, api.Task{ID: "block"})
	testutil.Eventually(t, 10*time.Second, "4 tasks", func() bool { return f.finished() == 4 })
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	_, _, _, completes, fails := f.snapshot()
	if len(completes) != 1 || string(completes[0].Complete.Output) != `{"echo":{"n":1}}` {
		t.Errorf("completes = %+v", completes)
	}
	want := map[string]api.FailRequest{
		"fatal": {Error: "fatal: bad input", Retryable: false, Usage: &api.UsageReport{Tokens: 5}},
		"flaky": {Error: "upstream 502", Retryable: true},
		"panic": {Error: "runner panicked: boom", Retryable: true},
		"block": {Error: "worker shutting down", Retryable: true},
	}
	for _, c := range fails {
		w := want[c.ID]
		if c.Fail.Error != w.Error || c.Fail.Retryable != w.Retryable || (w.Usage != nil && *c.Fail.Usage != *w.Usage) {
			t.Errorf("%s: fail = %+v, want %+v", c.ID, c.Fail, w)
		}
	}
	if len(fails) != 4 {
		t.Errorf("fails = %+v", fails)
	}
}

func TestEchoRunner(t *testing.T) {
	out, _, err := EchoRunner(context.Background(), api.Task{})
	if err != nil || string(out) != `{"echo":null}` {
		t.Errorf("EchoRunner(no input) = %s, %v", out, err)
	}
}

// A 409 on completion is logged as fenced off and not retried; a 503 is
// retried.
func TestReportConflictAndRetry(t *testing.T) {
	f := newFake()
	calls := 0
	f.onFinish = func(c finishCall) error {
		calls++
		switch {
		case c.ID == "fenced":
			return conflict
		case c.ID == "retry" && calls <= 2:
			return &client.APIError{Status: 503, Code: api.CodeUnavailable}
		}
		return nil
	}
	clock := &fakeClock{}
	h := start(t, f, `echo '"x"'`, func(c *Config) { c.sleep = clock.sleep })
	f.push(api.Task{ID: "fenced"})
	testutil.Eventually(t, 10*time.Second, "the first report", func() bool { return f.finished() == 1 })
	testutil.Eventually(t, 10*time.Second, "the fenced-off log", func() bool { return strings.Contains(h.logBuf.String(), "attempt fenced off") })
	f.push(api.Task{ID: "retry"})
	testutil.Eventually(t, 10*time.Second, "the retried report", func() bool { return f.finished() == 3 })
	_, _, _, completes, _ := f.snapshot()
	if len(completes) != 3 || completes[0].ID != "fenced" || completes[2].ID != "retry" {
		t.Errorf("completes = %+v", completes)
	}
}

func TestDefaultWorkerID(t *testing.T) {
	a, b := defaultWorkerID(), defaultWorkerID()
	if a == b || !strings.Contains(a, fmt.Sprint(os.Getpid())) || len(a) > 128 {
		t.Errorf("ids %q %q", a, b)
	}
}
