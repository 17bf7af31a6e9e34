package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

func TestSuccess(t *testing.T) {
	f := newFake()
	var dir string
	f.onHeartbeat = func(c hbCall) (api.HeartbeatResponse, error) {
		if u := c.Req.Usage; u != nil && u.Tokens == 120 && u.CostMicros == 3100 {
			_ = os.WriteFile(dir+"/hb", nil, 0o600)
		}
		return api.HeartbeatResponse{}, nil
	}
	script := `cat > "$DIR/stdin"
echo "::baton usage tokens=100 cost_usd=0.0031" >&2
echo "line one" >&2
echo "::baton usage tokens=20" >&2
echo "::baton usage cost_usd=abc" >&2
echo "line two" >&2
i=0; while [ ! -f "$DIR/hb" ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
echo "::baton usage cost_usd=0.000001" >&2
printf '{"id":"%s","attempt":"%s","queue":"%s","ws":"%s","key":"%s"}\n' "$BATON_TASK_ID" "$BATON_ATTEMPT" "$BATON_QUEUE" "$BATON_WORKSPACE_ID" "${BATON_API_KEY:-none}"`
	mirror := &testutil.SyncBuffer{}
	h := start(t, f, script, func(c *Config) {
		c.Queues = []string{"q1"}
		c.Env = append(c.Env, "BATON_API_KEY=bak_secret", "BATON_TASK_ID=stale")
		c.Stderr = mirror
	})
	dir = h.dir
	f.push(api.Task{ID: "task_1", Queue: "q1", WorkspaceID: "ws_9", Attempt: 2, Input: json.RawMessage(`{"n":1}`)})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })

	claims, hbs, _, completes, fails := f.snapshot()
	if len(fails) != 0 || len(completes) != 1 {
		t.Fatalf("completes %+v, fails %+v", completes, fails)
	}
	if in, _ := os.ReadFile(h.file("stdin")); string(in) != `{"n":1}` {
		t.Errorf("stdin = %q", in)
	}
	c := completes[0]
	if c.WS != "ws_9" || c.ID != "task_1" || c.Complete.Attempt != 2 {
		t.Errorf("complete = %+v", c)
	}
	want := `{"id":"task_1","attempt":"2","queue":"q1","ws":"ws_9","key":"none"}`
	if string(c.Complete.Output) != want {
		t.Errorf("output = %s, want %s", c.Complete.Output, want)
	}
	if u := c.Complete.Usage; u == nil || *u != (api.UsageReport{Tokens: 120, CostMicros: 3101}) {
		t.Errorf("usage = %+v", u)
	}
	sawUsage := false
	for _, hb := range hbs {
		if hb.WS != "ws_9" || hb.ID != "task_1" || hb.Req.Attempt != 2 {
			t.Errorf("heartbeat = %+v", hb)
		}
		sawUsage = sawUsage || (hb.Req.Usage != nil && hb.Req.Usage.Tokens == 120)
	}
	if !sawUsage {
		t.Error("no heartbeat carried the usage totals")
	}
	if got := f.allLogs(); !reflect.DeepEqual(got, []string{"line one", "::baton usage cost_usd=abc", "line two"}) {
		t.Errorf("logs = %q", got)
	}
	if c := claims[0]; !reflect.DeepEqual(c.Queues, []string{"q1"}) || c.WorkerID != "w-test" || c.WaitSeconds != 20 || c.MaxTasks != 1 {
		t.Errorf("claim = %+v", c)
	}
	if !strings.Contains(mirror.String(), "[task_1] line one\n") {
		t.Errorf("stderr mirror = %q", mirror.String())
	}
	for _, s := range []string{"malformed usage line", "task completed", "exit_code=0", "duration="} {
		if !strings.Contains(h.logBuf.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, h.logBuf)
		}
	}
}

func TestOutputs(t *testing.T) {
	f := newFake()
	h := start(t, f, `cat "$DIR/$BATON_TASK_ID"`, func(c *Config) { c.Concurrency = 4 })
	cases := map[string]struct{ stdout, want string }{
		"t_json":  {"  {\"a\": [1, 2]}\n", `{"a": [1, 2]}`},
		"t_text":  {"  hello world \n", `"hello world"`},
		"t_empty": {"", `null`},
		"t_num":   {"42\n", `42`},
	}
	for id, c := range cases {
		if err := os.WriteFile(h.file(id), []byte(c.stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		f.push(api.Task{ID: id})
	}
	testutil.Eventually(t, 15*time.Second, "all tasks", func() bool { return f.finished() == len(cases) })
	_, _, _, completes, _ := f.snapshot()
	for _, c := range completes {
		if got, want := string(c.Complete.Output), cases[c.ID].want; got != want {
			t.Errorf("%s: output %s, want %s", c.ID, got, want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	f := newFake()
	start(t, f, `echo first >&2; echo "last words" >&2; exit $(cat)`, func(c *Config) { c.Concurrency = 3 })
	f.push(api.Task{ID: "t78", Input: json.RawMessage(`78`)}, api.Task{ID: "t1", Input: json.RawMessage(`1`)},
		api.Task{ID: "t0", Input: json.RawMessage(`0`)})
	testutil.Eventually(t, 15*time.Second, "all tasks", func() bool { return f.finished() == 3 })
	_, _, _, completes, fails := f.snapshot()
	if len(completes) != 1 || completes[0].ID != "t0" || string(completes[0].Complete.Output) != "null" {
		t.Errorf("completes = %+v", completes)
	}
	want := map[string]api.FailRequest{
		"t78": {Attempt: 1, Error: "exit status 78: last words", Retryable: false},
		"t1":  {Attempt: 1, Error: "exit status 1: last words", Retryable: true},
	}
	for _, c := range fails {
		w := want[c.ID]
		if c.Fail.Error != w.Error || c.Fail.Retryable != w.Retryable || c.Fail.Attempt != 1 || c.Fail.Usage == nil {
			t.Errorf("%s: fail = %+v, want %+v", c.ID, c.Fail, w)
		}
	}
	if len(fails) != 2 {
		t.Errorf("fails = %+v", fails)
	}
}

// A cancel from the heartbeat kills the whole process group, grandchildren
// too, and the attempt is not reported.
func TestCancelKillsProcessGroup(t *testing.T) {
	f := newFake()
	var dir string
	f.onHeartbeat = func(c hbCall) (api.HeartbeatResponse, error) {
		if exists(dir + "/pid") {
			return api.HeartbeatResponse{Cancel: true, Reason: api.TaskCancelled}, nil
		}
		return api.HeartbeatResponse{}, nil
	}
	h := start(t, f, `echo $$ > "$DIR/shpid"; sleep 300 & echo $! > "$DIR/pid"; wait`, nil)
	dir = h.dir
	f.push(api.Task{ID: "task_1"})
	grandchild := h.readPid("pid")
	sh := h.readPid("shpid")
	testutil.Eventually(t, 10*time.Second, "the grandchild to die", func() bool { return gone(grandchild) })
	testutil.Eventually(t, 10*time.Second, "the agent to die", func() bool { return gone(sh) })
	testutil.Eventually(t, 10*time.Second, "the attempt to end", func() bool {
		return strings.Contains(h.logBuf.String(), "attempt stopped by the server; not reporting it")
	})
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, completes, fails := f.snapshot(); len(completes)+len(fails) != 0 {
		t.Errorf("cancelled attempt reported: %+v %+v", completes, fails)
	}
	if !strings.Contains(h.logBuf.String(), "reason=cancelled") {
		t.Errorf("log:\n%s", h.logBuf)
	}
}

// An agent that ignores SIGTERM is killed with SIGKILL after the grace period.
func TestSIGTERMIgnoredThenSIGKILL(t *testing.T) {
	f := newFake()
	var dir string
	var mu sync.Mutex
	var cancelAt time.Time
	f.onHeartbeat = func(c hbCall) (api.HeartbeatResponse, error) {
		if !exists(dir + "/pid") {
			return api.HeartbeatResponse{}, nil
		}
		mu.Lock()
		if cancelAt.IsZero() {
			cancelAt = time.Now()
		}
		mu.Unlock()
		return api.HeartbeatResponse{Cancel: true, Reason: api.TaskTimedOut}, nil
	}
	grace := 300 * time.Millisecond
	h := start(t, f, `trap "" TERM; echo $$ > "$DIR/pid"; sleep 300; echo survived`, func(c *Config) { c.KillGrace = grace })
	dir = h.dir
	f.push(api.Task{ID: "task_1"})
	pid := h.readPid("pid")
	testutil.Eventually(t, 10*time.Second, "the agent to die", func() bool { return gone(pid) })
	diedAt := time.Now()
	mu.Lock()
	took := diedAt.Sub(cancelAt)
	mu.Unlock()
	if took < grace {
		t.Errorf("agent died %s after the cancel, before the grace period of %s", took, grace)
	}
	testutil.Eventually(t, 10*time.Second, "the attempt to end", func() bool { return strings.Contains(h.logBuf.String(), "not reporting it") })
	if !strings.Contains(h.logBuf.String(), "sending SIGKILL") {
		t.Errorf("log:\n%s", h.logBuf)
	}
	if _, _, _, completes, fails := f.snapshot(); len(completes)+len(fails) != 0 {
		t.Errorf("cancelled attempt reported: %+v %+v", completes, fails)
	}
}

// A 409 on a heartbeat means the lease is lost; a refused key (the
// workspace is suspended, the key lost its scope or was revoked) means its
// outcome would be refused too. Either way the agent is killed and nothing
// is reported.
func TestHeartbeatRefusalsKill(t *testing.T) {
	for _, c := range []struct {
		err error
		log string
	}{
		{conflict, "attempt fenced off: its lease was lost"},
		{&client.APIError{Status: 403, Code: api.CodeWorkspaceSuspended}, "the server refuses its key; not reporting it"},
		{&client.APIError{Status: 403, Code: api.CodeForbidden}, "the server refuses its key; not reporting it"},
		{&client.APIError{Status: 401, Code: api.CodeUnauthenticated}, "the server refuses its key; not reporting it"},
	} {
		t.Run(c.err.Error(), func(t *testing.T) {
			f := newFake()
			f.onHeartbeat = func(hbCall) (api.HeartbeatResponse, error) { return api.HeartbeatResponse{}, c.err }
			h := start(t, f, `echo $$ > "$DIR/pid"; exec sleep 300`, nil)
			f.push(api.Task{ID: "task_1"})
			pid := h.readPid("pid")
			testutil.Eventually(t, 10*time.Second, "the agent to die", func() bool { return gone(pid) })
			testutil.Eventually(t, 10*time.Second, "the attempt to end", func() bool { return strings.Contains(h.logBuf.String(), c.log) })
			if err := h.stop(); err != nil {
				t.Fatal(err)
			}
			if _, _, _, completes, fails := f.snapshot(); len(completes)+len(fails) != 0 {
				t.Errorf("attempt reported: %+v %+v", completes, fails)
			}
		})
	}
}

// Transient heartbeat errors do not stop the agent.
func TestHeartbeatErrorsKeepRunning(t *testing.T) {
	f := newFake()
	var dir string
	n := 0
	f.onHeartbeat = func(hbCall) (api.HeartbeatResponse, error) {
		if n++; n <= 3 {
			return api.HeartbeatResponse{}, errors.New("connection refused")
		}
		_ = os.WriteFile(dir+"/ok", nil, 0o600)
		return api.HeartbeatResponse{}, nil
	}
	h := start(t, f, `i=0; while [ ! -f "$DIR/ok" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; echo '"done"'`, nil)
	dir = h.dir
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	_, hbs, _, completes, _ := f.snapshot()
	if len(completes) != 1 || string(completes[0].Complete.Output) != `"done"` || len(hbs) < 4 {
		t.Errorf("completes %+v after %d heartbeats", completes, len(hbs))
	}
	if !strings.Contains(h.logBuf.String(), "heartbeat failed; retrying at the next tick") {
		t.Errorf("log:\n%s", h.logBuf)
	}
}

func TestStdoutCap(t *testing.T) {
	f := newFake()
	start(t, f, `head -c 5000 /dev/zero | tr '\0' a; echo done >&2`, func(c *Config) { c.MaxOutputBytes = 1000 })
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	_, _, _, _, fails := f.snapshot()
	if len(fails) != 1 || !strings.Contains(fails[0].Fail.Error, "output too large: stdout exceeded the limit of 1000 bytes") || !fails[0].Fail.Retryable {
		t.Fatalf("fails = %+v", fails)
	}
}

// Lines are sent in batches while the agent runs (here every 3 lines, the
// timer being an hour), and the rest at the end.
func TestLogsBatched(t *testing.T) {
	f := newFake()
	var dir string
	f.onLogs = func(context.Context, []string) error {
		_ = os.WriteFile(dir+"/sent", nil, 0o600)
		return nil
	}
	h := start(t, f, `for i in 1 2 3 4 5 6 7; do echo "l$i" >&2; done
i=0; while [ ! -f "$DIR/sent" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done
echo l8 >&2`, func(c *Config) { c.logBatch, c.logFlush = 3, time.Hour })
	dir = h.dir
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	_, _, calls, completes, _ := f.snapshot()
	if len(completes) != 1 {
		t.Fatal("not completed")
	}
	if got := f.allLogs(); !reflect.DeepEqual(got, []string{"l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"}) {
		t.Errorf("logs = %q", got)
	}
	if len(calls) < 2 {
		t.Errorf("calls = %q, want a batch before the end", calls)
	}
}

// A server that does not take logs never blocks the agent: lines past the
// buffer are dropped and counted.
func TestLogsNeverBlockAgent(t *testing.T) {
	f := newFake()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.onLogs = func(ctx context.Context, _ []string) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h := start(t, f, `i=0; while [ $i -lt 3000 ]; do echo "line $i"; i=$((i+1)); done >&2; echo '"ok"'`,
		func(c *Config) { c.logCapacity, c.logFinalWait = 100, 100*time.Millisecond })
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 20*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	if _, _, _, completes, _ := f.snapshot(); len(completes) != 1 || string(completes[0].Complete.Output) != `"ok"` {
		t.Fatalf("completes = %+v", completes)
	}
	if !strings.Contains(h.logBuf.String(), "could not send the last log lines") {
		t.Errorf("log:\n%s", h.logBuf)
	}
}
