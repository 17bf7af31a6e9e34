package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	batonagent "github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
)

// The agent of steps_test.go written three ways — a shell script using
// `baton step`, a Python script using sdk/python/baton_agent.py, a Go
// program using pkg/agent (this test binary, re-run with goAgentEnv) — so
// that one scenario tests all three. Its input picks a mode:
//
//	crash   steps one, two (attempt 1 writes its pid to DIR/pid and blocks
//	        in it, to be killed), a wait for signal approve, step three
//	budget  steps b1, b2, b3, each reporting $0.03
//	sleep   a 2 s sleep (in place), a step, an 11 s sleep (the task
//	        waits), a step
//	fanout  emits "fan" and "out" on channel tokens, spawns three children,
//	        then joins a fourth (spawn --wait)
//	child   no steps: {"child": N}
//	ten     (Go only) steps s1 … s10; attempt 1 blocks in s9 (its pid in
//	        DIR/pid) until DIR/release exists
//	approve (Go only) step one, a wait for signal approve, step two
//	amo     (Go only) an at-most-once step "charge" (attempt 1 blocks in it,
//	        its pid in DIR/pid), then two waits for signal go
//	bench   (Go only) N steps timed in attempt 1, which then fails; attempt 2
//	        times their replays (stepTimes)
//	fanjoin (Go only) starts N fanchild children and joins them (fanout_test.go)
//
// Every step appends "KEY ATTEMPT" to DIR/effects when it runs (the side
// effects that a replay must not repeat) and reports 10 tokens.

const goAgentEnv = "BATON_E2E_AGENT"

func TestMain(m *testing.M) {
	if os.Getenv(goAgentEnv) == "go" {
		os.Exit(goAgent())
	}
	os.Exit(m.Run())
}

// stepInput is the agent's input.
type stepInput struct {
	Mode string `json:"mode"`
	Dir  string `json:"dir"`
	N    int    `json:"n"`
}

// blockRounds × 50 ms bounds the block of the crash mode's step two.
const blockRounds = 600

const shellAgent = `set -e
B=%q
input=$(cat)
field() { printf '%%s' "$input" | sed -n "s/.*\"$1\": *\"\{0,1\}\([^\",}]*\).*/\1/p"; }
mode=$(field mode); dir=$(field dir); n=$(field n)
export dir AGENT_PID=$$
# step KEY VALUE COST [block]: prints VALUE, once
step() {
	"$B" step run "$1" -- sh -c '
		echo "$0 $BATON_ATTEMPT" >> "$dir/effects"
		echo "::baton usage tokens=10 cost_usd=$2" >&2
		if [ "$3" = block ] && [ "$BATON_ATTEMPT" = 1 ]; then
			echo "$AGENT_PID" > "$dir/pid"
			i=0; while [ $i -lt %d ]; do sleep 0.05; i=$((i+1)); done
		fi
		printf "%%s" "$1"' "$1" "$2" "$3" "$4"
}
case $mode in
crash)
	one=$(step one 1 0.01); two=$(step two 2 0.01 block)
	approval=$("$B" step wait approve approve --timeout 5m)
	three=$(step three 3 0.01)
	printf '{"sum": %%d, "approval": %%s}\n' $((one + two + three)) "$approval";;
budget)
	b1=$(step b1 1 0.03); b2=$(step b2 2 0.03); b3=$(step b3 3 0.03)
	printf '{"steps": [%%s, %%s, %%s]}\n' "$b1" "$b2" "$b3";;
sleep)
	"$B" step sleep short 2s; a=$(step after-short 1 0.01)
	"$B" step sleep long 11s; b=$(step after-long 2 0.01)
	printf '{"sum": %%d}\n' $((a + b));;
fanout)
	printf 'fan\nout\n' | "$B" step emit tokens
	ids=""
	for i in 1 2 3; do
		id=$("$B" step spawn "child-$i" --queue "$BATON_QUEUE" --input "{\"mode\": \"child\", \"n\": $i, \"dir\": \"$dir\"}")
		ids="$ids\"$id\","
	done
	join=$("$B" step spawn join --queue "$BATON_QUEUE" --input "{\"mode\": \"child\", \"n\": 4, \"dir\": \"$dir\"}" --wait)
	printf '{"children": [%%s], "join": %%s}\n' "${ids%%,}" "$join";;
child)
	echo "child-$n $BATON_ATTEMPT" >> "$dir/effects"
	printf '{"child": %%s}\n' "$n";;
esac
`

const pythonAgent = `import json, os, sys, time
import baton_agent as baton

inp = json.load(sys.stdin)
d, att = inp.get("dir", ""), os.environ["BATON_ATTEMPT"]


def effect(key):
    with open(os.path.join(d, "effects"), "a") as f:
        f.write("%%s %%s\n" %% (key, att))


def step(key, value, cost=0.01, block=False):
    def fn():
        effect(key)
        baton.usage(tokens=10, cost_usd=cost)
        if block and att == "1":
            with open(os.path.join(d, "pid"), "w") as f:
                f.write(str(os.getpid()))
            for _ in range(%d):
                time.sleep(0.05)
        return value
    return baton.run(key, fn)


def crash():
    one, two = step("one", 1), step("two", 2, block=True)
    approval = baton.wait("approve", "approve", timeout=300)
    return {"sum": one + two + step("three", 3), "approval": approval}


def budget():
    return {"steps": [step("b%%d" %% i, i, cost=0.03) for i in (1, 2, 3)]}


def sleeper():
    baton.sleep("short", 2)
    a = step("after-short", 1)
    baton.sleep("long", 11)
    return {"sum": a + step("after-long", 2)}


def fanout():
    baton.emit("fan", "out", channel="tokens")
    q = os.environ["BATON_QUEUE"]
    ids = [baton.spawn("child-%%d" %% i, {"mode": "child", "n": i, "dir": d}, queue=q)["task_id"] for i in (1, 2, 3)]
    join = baton.spawn("join", {"mode": "child", "n": 4, "dir": d}, queue=q, wait=True)
    return {"children": ids, "join": join}


def child():
    effect("child-%%d" %% inp["n"])
    return {"child": inp["n"]}


baton.main({"crash": crash, "budget": budget, "sleep": sleeper, "fanout": fanout, "child": child}[inp["mode"]])
`

// agentRun chains the Go agent's calls: after an error each does nothing.
type agentRun struct {
	ctx context.Context
	in  stepInput
	err error
}

func (r *agentRun) effect(key string) {
	f, err := os.OpenFile(filepath.Join(r.in.Dir, "effects"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = fmt.Fprintf(f, "%s %s\n", key, os.Getenv("BATON_ATTEMPT"))
		err = errors.Join(err, f.Close())
	}
	if err != nil && r.err == nil {
		r.err = err
	}
}

func (r *agentRun) step(key string, v int, cost api.Micros, block bool) int {
	if r.err != nil {
		return 0
	}
	got, err := batonagent.Run(r.ctx, key, func(ctx context.Context) (int, error) {
		r.effect(key)
		if err := batonagent.Usage(ctx, 10, cost); err != nil {
			return 0, err
		}
		if block {
			if err := r.blockInAttempt1(); err != nil {
				return 0, err
			}
		}
		return v, nil
	})
	r.err = err
	return got
}

func (r *agentRun) spawn(key string, n int, wait bool) json.RawMessage {
	if r.err != nil {
		return nil
	}
	out, err := batonagent.Spawn(r.ctx, key, os.Getenv("BATON_QUEUE"), stepInput{Mode: "child", N: n, Dir: r.in.Dir}, wait)
	r.err = err
	return out
}

func goAgent() int {
	r := &agentRun{ctx: context.Background()}
	if err := json.NewDecoder(os.Stdin).Decode(&r.in); err != nil {
		fmt.Fprintln(os.Stderr, "agent: input:", err)
		return batonagent.ExitPermanent
	}
	var out any
	switch r.in.Mode {
	case "crash":
		one, two := r.step("one", 1, 10_000, false), r.step("two", 2, 10_000, true)
		var approval json.RawMessage
		if r.err == nil {
			approval, r.err = batonagent.Wait(r.ctx, "approve", "approve", 5*time.Minute)
		}
		out = map[string]any{"sum": one + two + r.step("three", 3, 10_000, false), "approval": approval}
	case "budget":
		out = map[string]any{"steps": []int{r.step("b1", 1, 30_000, false), r.step("b2", 2, 30_000, false), r.step("b3", 3, 30_000, false)}}
	case "sleep":
		if r.err = batonagent.Sleep(r.ctx, "short", 2*time.Second); r.err != nil {
			break
		}
		a := r.step("after-short", 1, 10_000, false)
		if r.err == nil {
			r.err = batonagent.Sleep(r.ctx, "long", 11*time.Second)
		}
		out = map[string]any{"sum": a + r.step("after-long", 2, 10_000, false)}
	case "fanout":
		r.err = batonagent.Emit(r.ctx, "tokens", "fan", "out")
		var ids []string
		for i := 1; i <= 3; i++ {
			var v struct {
				TaskID string `json:"task_id"`
			}
			if raw := r.spawn(fmt.Sprintf("child-%d", i), i, false); r.err == nil {
				r.err = json.Unmarshal(raw, &v)
			}
			ids = append(ids, v.TaskID)
		}
		out = map[string]any{"children": ids, "join": r.spawn("join", 4, true)}
	case "ten":
		sum := 0
		for i := 1; i <= 10; i++ {
			sum += r.tenStep(i)
		}
		out = map[string]int{"sum": sum}
	case "approve":
		one := r.step("one", 1, 10_000, false)
		var approval json.RawMessage
		if r.err == nil {
			approval, r.err = batonagent.Wait(r.ctx, "approve", "approve", 0)
		}
		out = map[string]any{"sum": one + r.step("two", 2, 10_000, false), "approval": approval}
	case "amo":
		out = r.atMostOnce()
	case "bench":
		out, r.err = r.bench()
	case "child":
		r.effect(fmt.Sprintf("child-%d", r.in.N))
		out = map[string]int{"child": r.in.N}
	case "fanjoin":
		out, r.err = r.fanJoin()
	case "fanchild":
		out, r.err = r.fanChild()
	default:
		r.err = batonagent.Permanent(fmt.Errorf("unknown mode %q", r.in.Mode))
	}
	if r.err != nil {
		fmt.Fprintln(os.Stderr, "agent:", r.err)
		return batonagent.ExitCode(r.err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		return batonagent.ExitError
	}
	return batonagent.ExitOK
}

// stepAgents are the agent's commands for `baton worker run -- sh -c CMD`,
// by language; python is missing without python3.
func stepAgents(t *testing.T, bin string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	sh := filepath.Join(dir, "agent.sh")
	py := filepath.Join(dir, "agent.py")
	if err := os.WriteFile(sh, fmt.Appendf(nil, shellAgent, bin, blockRounds), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(py, fmt.Appendf(nil, pythonAgent, blockRounds), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sdk, err := filepath.Abs(filepath.Join("..", "..", "sdk", "python"))
	if err != nil {
		t.Fatal(err)
	}
	agents := map[string]string{
		"shell": fmt.Sprintf("exec sh %q", sh),
		"go":    fmt.Sprintf("%s=go exec %q", goAgentEnv, self),
	}
	if p, err := exec.LookPath("python3"); err == nil {
		agents["python"] = fmt.Sprintf("PYTHONPATH=%q exec %q %q", sdk, p, py)
	}
	return agents
}

// stepTimes are the round trips of steps through the worker's endpoint, in
// microseconds: a new step's begin and end, a replayed step's begin.
type stepTimes struct {
	Sum       int   `json:"sum"`
	NewP50    int64 `json:"new_p50_us"`
	NewP99    int64 `json:"new_p99_us"`
	ReplayP50 int64 `json:"replay_p50_us"`
	ReplayP99 int64 `json:"replay_p99_us"`
}

func percentiles(d []time.Duration) (p50, p99 int64) {
	slices.Sort(d)
	return d[len(d)/2].Microseconds(), d[(len(d)*99)/100].Microseconds()
}

// bench runs N steps; attempt 1 records them, times them, writes the
// times to DIR/new.json and fails; attempt 2 replays them all.
func (r *agentRun) bench() (stepTimes, error) {
	var times stepTimes
	d := make([]time.Duration, r.in.N)
	for i := range r.in.N {
		start := time.Now()
		v, err := batonagent.Run(r.ctx, "s", func(context.Context) (int, error) {
			r.effect("s")
			return i, nil
		})
		d[i] = time.Since(start)
		if err != nil {
			return times, err
		}
		times.Sum += v
	}
	path := filepath.Join(r.in.Dir, "new.json")
	if os.Getenv("BATON_ATTEMPT") == "1" {
		times.NewP50, times.NewP99 = percentiles(d)
		b, _ := json.Marshal(times)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return times, err
		}
		return times, errors.New("attempt 1 ends here: the next one replays")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return times, err
	}
	sum := times.Sum
	if err := json.Unmarshal(b, &times); err != nil {
		return times, err
	}
	times.Sum = sum
	times.ReplayP50, times.ReplayP99 = percentiles(d)
	return times, nil
}

// blockInAttempt1 is what a mode does in the step it is killed in: in
// attempt 1 it writes its pid to DIR/pid and blocks until DIR/release
// exists (for at most blockRounds × 50 ms).
func (r *agentRun) blockInAttempt1() error {
	if os.Getenv("BATON_ATTEMPT") != "1" {
		return nil
	}
	if err := os.WriteFile(filepath.Join(r.in.Dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return err
	}
	for range blockRounds {
		if _, err := os.Stat(filepath.Join(r.in.Dir, "release")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// tenStep is step s<i> of the ten mode: 10 tokens, $0.01; attempt 1 blocks
// in s9, after reporting its usage, until DIR/release exists.
func (r *agentRun) tenStep(i int) int {
	if r.err != nil {
		return 0
	}
	key := fmt.Sprintf("s%d", i)
	got, err := batonagent.Run(r.ctx, key, func(ctx context.Context) (int, error) {
		r.effect(key)
		if err := batonagent.Usage(ctx, 10, 10_000); err != nil {
			return 0, err
		}
		if i == 9 {
			if err := r.blockInAttempt1(); err != nil {
				return 0, err
			}
		}
		return i, nil
	})
	r.err = err
	return got
}

// atMostOnce is the amo mode.
func (r *agentRun) atMostOnce() map[string]json.RawMessage {
	_, r.err = batonagent.Run(r.ctx, "charge", func(ctx context.Context) (int, error) {
		r.effect("charge")
		return 1, r.blockInAttempt1()
	}, batonagent.AtMostOnce())
	out := map[string]json.RawMessage{}
	for _, k := range []string{"first", "second"} {
		if r.err == nil {
			out[k], r.err = batonagent.Wait(r.ctx, "go", "go", 0)
		}
	}
	return out
}
