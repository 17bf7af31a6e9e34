//go:build linux

package supervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// A grandchild that leaves the agent's process group and session (setsid)
// still dies with a cancelled attempt, and leaves no zombie: found by its
// tag, or as the agent's descendant when it clears its environment.
func TestCancelKillsSetsidGrandchildren(t *testing.T) {
	f := newFake()
	var dir string
	f.onHeartbeat = func(c hbCall) (api.HeartbeatResponse, error) {
		if exists(dir+"/pid") && exists(dir+"/bare") {
			return api.HeartbeatResponse{Cancel: true, Reason: api.TaskCancelled}, nil
		}
		return api.HeartbeatResponse{}, nil
	}
	h := start(t, f, `setsid sleep 1000 & echo $! > "$DIR/pid"
env -i setsid sleep 1000 & echo $! > "$DIR/bare"
wait`, nil)
	dir = h.dir
	f.push(api.Task{ID: "task_1"})
	for _, name := range []string{"pid", "bare"} {
		pid := h.readPid(name)
		testutil.Eventually(t, 10*time.Second, "the setsid grandchild "+name+" to be killed and reaped", func() bool { return reaped(pid) })
	}
	testutil.Eventually(t, 10*time.Second, "the attempt to end", func() bool {
		return strings.Contains(h.logBuf.String(), "attempt stopped by the server; not reporting it")
	})
}

// What an agent leaves running when it exits, setsid or double fork, dies
// with it.
func TestAgentExitKillsEscapedProcesses(t *testing.T) {
	f := newFake()
	h := start(t, f, `setsid sleep 1000 & echo $! > "$DIR/pid"
(setsid sleep 1000 & echo $! > "$DIR/orphan") ; echo '"done"'`, nil)
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	for _, name := range []string{"pid", "orphan"} {
		pid := h.readPid(name)
		testutil.Eventually(t, 10*time.Second, "the escaped process "+name+" to be killed and reaped", func() bool { return reaped(pid) })
	}
	if _, _, _, completes, _ := f.snapshot(); len(completes) != 1 || string(completes[0].Complete.Output) != `"done"` {
		t.Fatalf("completes = %+v", completes)
	}
}

func TestParseStat(t *testing.T) {
	p, ok := parseStat(42, []byte("42 (a) b (c)) S 7 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 12345 0 0"))
	if !ok || p.ppid != 7 || p.pgid != 42 || p.state != 'S' || p.start != 12345 {
		t.Fatalf("parseStat = %+v, %v", p, ok)
	}
	if _, ok := parseStat(1, []byte("1 (x")); ok {
		t.Fatal("parsed a truncated stat")
	}
}
