package e2e_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	batonagent "github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// A fan-out of 20 children joined by their parent (issue 14), through real
// processes: the Go agent of steps_agents_test.go in mode "fanjoin" starts
// N children (mode "fanchild") on queue fanQueue without waiting for them
// — a worker with fanWorkers slots runs them in parallel — and joins all
// of them by their child:<id> signals (pkg/agent's Start and Join). The
// parent succeeds with the N outputs in order; each child ran once; and
// the children overlapped in time. Then a shell parent does the same with
// `baton step spawn` and `baton step wait … child:ID`, and with `baton step
// join`, and a Python one with baton_agent's join.

const (
	fanQueue    = "fan"
	fanChildren = 20
	fanWorkers  = 4
)

// fanChildOut is a fanchild's output: its n and when it ran (Unix ns).
type fanChildOut struct {
	N     int   `json:"n"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// fanJoin is the fanjoin mode: start N children, join them all.
func (r *agentRun) fanJoin() (any, error) {
	var ids []string
	for i := range r.in.N {
		id, err := batonagent.Start(r.ctx, fmt.Sprintf("part-%d", i), fanQueue, stepInput{Mode: "fanchild", Dir: r.in.Dir, N: i})
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	children, err := batonagent.Join(r.ctx, "parts", ids...)
	if err != nil {
		return nil, err
	}
	return map[string]any{"children": children}, nil
}

// fanChild is the fanchild mode: it marks DIR/started-N and, so that the
// test sees parallel children overlap rather than hope for it, waits (at
// most blockRounds × 50 ms) until fanWorkers children have started: the
// first fanWorkers children all run at once. A serial run of the children
// times those waits out and shows no overlap. Child 0 also waits for
// DIR/release, which the test writes once the parent waits for it: the join
// is then woken by its signal, not only answered by kept ones.
func (r *agentRun) fanChild() (any, error) {
	out := fanChildOut{N: r.in.N, Start: time.Now().UnixNano()}
	r.effect(fmt.Sprintf("child-%d", r.in.N))
	if err := os.WriteFile(filepath.Join(r.in.Dir, fmt.Sprintf("started-%d", r.in.N)), nil, 0o644); err != nil {
		return nil, err
	}
	for range blockRounds {
		m, _ := filepath.Glob(filepath.Join(r.in.Dir, "started-*"))
		_, err := os.Stat(filepath.Join(r.in.Dir, "release"))
		if len(m) >= fanWorkers && (r.in.N > 0 || err == nil) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	out.End = time.Now().UnixNano()
	return out, r.err
}

// maxOverlap is the most intervals [start, end] that share a moment.
func maxOverlap(runs []fanChildOut) int {
	type edge struct {
		at    int64
		delta int
	}
	var edges []edge
	for _, c := range runs {
		edges = append(edges, edge{c.Start, 1}, edge{c.End, -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		// A start at the moment another run ends overlaps it.
		return cmp.Or(cmp.Compare(a.at, b.at), b.delta-a.delta)
	})
	n, best := 0, 0
	for _, e := range edges {
		n += e.delta
		best = max(best, n)
	}
	return best
}

// shellFanOut is a shell parent that fans out with `baton step`: it spawns
// N children (the Go agent's mode "child") on fanQueue without --wait and
// joins each with `baton step wait join-I child:ID` (mode "wait") or all
// with `baton step join parts ID...` (mode "join").
const shellFanOut = `set -e
B=%q
input=$(cat)
field() { printf '%%s' "$input" | sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p"; }
mode=$(field mode); dir=$(field dir); n=$(field n)
ids=""; i=0
while [ $i -lt "$n" ]; do
	ids="$ids $("$B" step spawn "part-$i" --queue %s --input "{\"mode\": \"child\", \"n\": $i, \"dir\": \"$dir\"}")"
	i=$((i+1))
done
if [ "$mode" = join ]; then
	printf '{"children": %%s}\n' "$("$B" step join parts $ids)"
	exit
fi
out=""; i=0
for id in $ids; do
	out="$out$("$B" step wait "join-$i" "child:$id"),"
	i=$((i+1))
done
printf '{"children": [%%s]}\n' "${out%%,}"
`

// pythonFanOut is the same parent in Python: baton_agent's spawn and join.
const pythonFanOut = `import json, sys
import baton_agent as baton


def fan():
    inp = json.load(sys.stdin)
    child = lambda i: {"mode": "child", "n": i, "dir": inp["dir"]}
    ids = [baton.spawn("part-%%d" %% i, child(i), queue=%q)["task_id"] for i in range(inp["n"])]
    return {"children": baton.join("parts", ids)}


baton.main(fan)
`

// scriptParents starts the workers of the script parents: shellFanOut on
// queue "sh", and pythonFanOut on queue "py" where python3 is installed.
func scriptParents(t *testing.T, s *stepScenario) (queues []string) {
	dir := t.TempDir()
	sh, py := filepath.Join(dir, "fan.sh"), filepath.Join(dir, "fan.py")
	if err := os.WriteFile(sh, fmt.Appendf(nil, shellFanOut, s.cl.bin, fanQueue), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(py, fmt.Appendf(nil, pythonFanOut, fanQueue), 0o644); err != nil {
		t.Fatal(err)
	}
	s.cl.worker("shell-parents", s.addr, s.key, 1, "exec sh "+sh, "--queue", "sh")
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Log("python3 is not installed: the Python parent is not tested")
		return []string{"sh"}
	}
	sdk, err := filepath.Abs(filepath.Join("..", "..", "sdk", "python"))
	if err != nil {
		t.Fatal(err)
	}
	s.cl.worker("python-parents", s.addr, s.key, 1, fmt.Sprintf("PYTHONPATH=%q exec %q %q", sdk, python, py), "--queue", "py")
	return []string{"sh", "py"}
}

// testScriptFanOut runs a script parent of queue (scriptParents) in mode
// with n children on the fan queue and checks their outputs.
func testScriptFanOut(t *testing.T, s *stepScenario, queue, mode string, n int) {
	dir := filepath.Join(s.dir, queue+"-"+mode)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(stepInput{Mode: mode, Dir: dir, N: n})
	sub, err := s.c.SubmitTask(context.Background(), api.SubmitTaskRequest{Queue: queue, Input: in}, "")
	if err != nil {
		t.Fatal(err)
	}
	task := s.until(sub.ID, api.TaskSucceeded, "", 90*time.Second)
	var out struct{ Children []batonagent.Child }
	s.output(task, &out)
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("child-%d", i)
		var o struct{ Child int }
		if i >= len(out.Children) || out.Children[i].Status != api.TaskSucceeded || json.Unmarshal(out.Children[i].Output, &o) != nil || o.Child != i {
			t.Fatalf("the %s parent's joins (%s): %s, want %d children's outputs in order", queue, mode, task.Output, n)
		}
	}
	ranOnce(t, effects(t, dir), keys...)
	t.Logf("the %s parent (%s) joined %d children in %d attempts", queue, mode, n, task.Attempt)
}

func testFanOut(t *testing.T, pgURL string) {
	cl := newCluster(t, pgURL)
	addr := freePort(t)
	cl.server("server", addr)
	c, key := cl.tenant(addr, "fanout")
	agent := stepAgents(t, cl.bin)["go"]
	cl.worker("parents", addr, key, 1, agent)
	cl.worker("children", addr, key, fanWorkers, agent, "--queue", fanQueue)
	s := &stepScenario{t: t, cl: cl, addr: addr, c: c, key: key, dir: t.TempDir()}
	ctx := context.Background()
	began := time.Now()
	id, dir := s.submitN("fanjoin", fanChildren, 0)
	s.until(id, api.TaskWaiting, "signal: child:", 60*time.Second)
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	task := s.until(id, api.TaskSucceeded, "", 120*time.Second)
	took := time.Since(began)

	var out struct{ Children []batonagent.Child }
	s.output(task, &out)
	if len(out.Children) != fanChildren {
		t.Fatalf("the parent joined %d children, want %d: %s", len(out.Children), fanChildren, task.Output)
	}
	var runs []fanChildOut
	keys := make([]string, fanChildren)
	for i, ch := range out.Children {
		var o fanChildOut
		if ch.Status != api.TaskSucceeded || json.Unmarshal(ch.Output, &o) != nil || o.N != i || o.End < o.Start {
			t.Fatalf("child %d joined as %+v (output %s)", i, ch, ch.Output)
		}
		runs = append(runs, o)
		keys[i] = fmt.Sprintf("child-%d", i)
	}
	// Each child is a task of the parent that ran once, on the fan queue.
	n := 0
	for k, err := range c.AllTasks(ctx, client.TaskListOptions{ListOptions: client.ListOptions{Limit: 100}}) {
		if err != nil {
			t.Fatal(err)
		}
		if k.ParentID != id {
			continue
		}
		n++
		if k.Status != api.TaskSucceeded || k.Attempt != 1 || k.Queue != fanQueue {
			t.Errorf("child %s: %s, attempt %d, queue %s; want succeeded once on %s", k.ID, k.Status, k.Attempt, k.Queue, fanQueue)
		}
		if i := slices.IndexFunc(out.Children, func(ch batonagent.Child) bool { return ch.TaskID == k.ID }); i < 0 {
			t.Errorf("child %s is not among the joined", k.ID)
		}
	}
	if n != fanChildren {
		t.Fatalf("%d children of %s, want %d", n, id, fanChildren)
	}
	ranOnce(t, effects(t, dir), keys...)
	overlap := maxOverlap(runs)
	if overlap != fanWorkers {
		t.Fatalf("at most %d children ran at a time, want the worker's %d slots' worth (%+v)", overlap, fanWorkers, runs)
	}
	if task.Attempt < 2 {
		t.Errorf("the parent ran %d attempt: its join never waited", task.Attempt)
	}
	// The joins are wait steps of the journal, one a child.
	journal := s.steps(id)
	for _, ch := range out.Children {
		if st := journal["parts/"+ch.TaskID]; st.Kind != api.StepWait || st.Status != api.StepSucceeded {
			t.Errorf("join step of %s: %+v", ch.TaskID, st)
		}
	}
	t.Logf("%d children on %d slots joined in %s: up to %d ran at once; the parent ran %d attempts",
		fanChildren, fanWorkers, took.Round(time.Millisecond), overlap, task.Attempt)

	// The same from a shell script, with `baton step spawn` and `wait` or
	// `join`, and from Python.
	queues := scriptParents(t, s)
	testScriptFanOut(t, s, "sh", "wait", 5)
	testScriptFanOut(t, s, "sh", "join", 5)
	if slices.Contains(queues, "py") {
		testScriptFanOut(t, s, "py", "join", 5)
	}
}

// TestFanOutSQLite: go test ./internal/e2e -run TestFanOut -v
func TestFanOutSQLite(t *testing.T) { testFanOut(t, "") }

// TestFanOutPostgres is the same on PostgreSQL.
func TestFanOutPostgres(t *testing.T) { testFanOut(t, postgresOrSkip(t)) }
