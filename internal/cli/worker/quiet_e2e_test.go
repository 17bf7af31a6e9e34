package worker_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/testutil"
)

// noisy matches a worker's or the server's log lines that would alarm an
// operator: WARN or ERROR records, and requests answered with a 5xx.
var noisy = regexp.MustCompile(`(?m)^.*(level=(WARN|ERROR)|status=5\d\d).*$`)

// quiet returns log's noisy lines, leaving out the one warning a sandbox
// without ptrace protection gives at start (not about cancels or drains).
func quiet(log string) []string {
	var out []string
	for _, l := range noisy.FindAllString(log, -1) {
		if !strings.Contains(l, "agents may read this worker's environment") {
			out = append(out, l)
		}
	}
	return out
}

// startWorker runs `baton worker run` with the operator key (a shared
// worker), logging logfmt (level=…) as the server's log here does, until the returned stop is called; stop drains it as Ctrl-C does
// and returns what it printed.
func startWorker(t *testing.T, e *clitest.Env, id string) (stop func() clitest.Result) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan clitest.Result, 1)
	go func() {
		done <- e.ExecContext(ctx, clitest.Invocation{Args: []string{"worker", "run", "--queue", "q", "--worker-id", id,
			"--heartbeat", "100ms", "--kill-grace", "2s", "--drain-timeout", "10s", "--",
			"sh", "-c", `read x; case "$x" in *quick*) echo '{}';; *) exec sleep 60;; esac`},
			Env: map[string]string{"BATON_API_KEY": e.Key, "BATON_LOG_FORMAT": "text"}})
	}()
	var res *clitest.Result
	t.Cleanup(func() {
		if res == nil {
			cancel()
			<-done
		}
	})
	return func() clitest.Result {
		cancel()
		r := <-done
		res = &r
		return r
	}
}

// TestCancelAndDrainAreQuiet (issue 16 row 9), against a real server and
// the real `baton worker run`: a task cancelled by its owner is stopped
// with INFO lines only (no WARN), and a worker drained while its claim
// long-polls exits 0 with no WARN either, the server ending the cut claim
// with an empty answer (INFO 200) or as a client gone (DEBUG 499), never a
// logged 5xx or ERROR.
func TestCancelAndDrainAreQuiet(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	status := func(id string) string {
		return strings.TrimSpace(e.RunAs(owner, "tasks", "get", id, "--jq", ".status").Want(t, 0).Stdout)
	}

	// A cancel.
	stop := startWorker(t, e, "w-cancel")
	slow := strings.TrimSpace(e.RunAs(owner, "tasks", "submit", "--queue", "q", "--input", `{"job":"slow"}`, "-q").Want(t, 0).Stdout)
	testutil.Eventually(t, 20*time.Second, "the slow task runs", func() bool { return status(slow) == "running" })
	heartbeats := func() int { return strings.Count(e.ServerLog(), "route=/v1/tasks/{id}/heartbeat") }
	before := heartbeats()
	e.RunAs(owner, "tasks", "cancel", slow).Want(t, 0)
	testutil.Eventually(t, 10*time.Second, "a heartbeat after the cancel", func() bool { return heartbeats() > before })
	quick := strings.TrimSpace(e.RunAs(owner, "tasks", "submit", "--queue", "q", "--input", `{"job":"quick"}`, "-q").Want(t, 0).Stdout)
	testutil.Eventually(t, 20*time.Second, "the quick task succeeds after the cancelled one", func() bool { return status(quick) == "succeeded" })
	r := stop().Want(t, 0)
	if !strings.Contains(r.Stderr, "level=INFO") || !regexp.MustCompile(`level=INFO msg="server stopped the attempt; stopping the agent" .*cancel`).MatchString(r.Stderr) {
		t.Errorf("no INFO line for the cancel:\n%s", r.Stderr)
	}
	if n := quiet(r.Stderr); len(n) > 0 {
		t.Errorf("a normal cancel is logged as a problem:\n%s\n\nall of it:\n%s", strings.Join(n, "\n"), r.Stderr)
	}

	// A drain in the middle of a claim: a new worker's first claim records
	// it in the presence list, so once it is listed its claim is waiting.
	claims := func() int { return strings.Count(e.ServerLog(), "route=/v1/tasks/claim") }
	stop = startWorker(t, e, "w-drain")
	testutil.Eventually(t, 20*time.Second, "the new worker polls", func() bool {
		return strings.Contains(e.Run("workers", "list", "-q").Stdout, "w-drain")
	})
	before = claims()
	r = stop().Want(t, 0)
	if n := quiet(r.Stderr); len(n) > 0 {
		t.Errorf("a drain is logged as a problem:\n%s\n\nall of it:\n%s", strings.Join(n, "\n"), r.Stderr)
	}
	testutil.Eventually(t, 10*time.Second, "the server ends the cut claim", func() bool { return claims() > before })
	log := e.ServerLog()
	if n := quiet(log); len(n) > 0 {
		t.Errorf("the server logs a problem for a cancel or a drain:\n%s", strings.Join(n, "\n"))
	}
	lines := regexp.MustCompile(`(?m)^.*route=/v1/tasks/claim .*$`).FindAllString(log, -1)
	if last := lines[len(lines)-1]; !regexp.MustCompile(`level=(INFO|DEBUG) .*status=(200|499) `).MatchString(last) {
		t.Errorf("the claim cut by the drain: %s", last)
	}
}
