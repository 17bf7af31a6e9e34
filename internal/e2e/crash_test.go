package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// agent records each execution ("TASK ATTEMPT") when its work is done, then
// prints its attempt as the result.
func agent(log string, work string) string {
	return fmt.Sprintf(`cat >/dev/null; sleep %s; echo "$BATON_TASK_ID $BATON_ATTEMPT" >> %q; echo "{\"attempt\": $BATON_ATTEMPT}"`, work, log)
}

// executions reads the agent's log: task id → attempts that finished work.
func executions(t *testing.T, path string) map[string][]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var id string
		var attempt int
		if _, err := fmt.Sscanf(sc.Text(), "%s %d", &id, &attempt); err != nil {
			t.Fatalf("bad agent log line %q", sc.Text())
		}
		out[id] = append(out[id], attempt)
	}
	return out
}

func submitAll(t *testing.T, c *client.Client, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		task, err := c.SubmitTask(context.Background(), api.SubmitTaskRequest{MaxAttempts: 10,
			Input: json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))}, fmt.Sprintf("crash-%d", i))
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
		ids[i] = task.ID
	}
	return ids
}

// verifyExactlyOnce checks every task succeeded exactly once, and that any
// repeated execution belongs to an attempt the server fenced off.
func verifyExactlyOnce(t *testing.T, c *client.Client, ids []string, execs map[string][]int) {
	t.Helper()
	repeated := 0
	for _, id := range ids {
		task, err := c.GetTask(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if task.Status != api.TaskSucceeded {
			t.Fatalf("task %s is %s (%s)", id, task.Status, task.StatusReason)
		}
		succeeded := 0
		for _, a := range task.Attempts {
			if a.Status == api.TaskSucceeded {
				succeeded++
				if a.Number != task.Attempt {
					t.Fatalf("task %s: attempt %d succeeded but the task's attempt is %d", id, a.Number, task.Attempt)
				}
			}
		}
		if succeeded != 1 {
			t.Fatalf("task %s has %d succeeded attempts", id, succeeded)
		}
		var out struct{ Attempt int }
		if err := json.Unmarshal(task.Output, &out); err != nil || out.Attempt != task.Attempt {
			t.Fatalf("task %s output %s is not from its succeeded attempt %d", id, task.Output, task.Attempt)
		}
		seen := map[int]bool{}
		for _, n := range execs[id] {
			if seen[n] {
				t.Fatalf("task %s attempt %d executed twice", id, n)
			}
			seen[n] = true
			if n != task.Attempt {
				repeated++ // an execution whose attempt was fenced off
				if a := task.Attempts[n-1]; a.Status == api.TaskSucceeded {
					t.Fatalf("task %s: extra execution of attempt %d, which succeeded", id, n)
				}
			}
		}
		if !seen[task.Attempt] {
			t.Fatalf("task %s succeeded with attempt %d, which the agent never finished", id, task.Attempt)
		}
	}
	t.Logf("%d tasks succeeded exactly once; %d extra executions, all of fenced-off attempts", len(ids), repeated)
}

func testCrashRecovery(t *testing.T, pgURL string) {
	cl := newCluster(t, pgURL)
	addr := freePort(t)
	srv := cl.server("server-1", addr)
	c, key := cl.tenant(addr, "crash")
	ids := submitAll(t, c, 200)
	log := filepath.Join(t.TempDir(), "executions.log")
	work := cl.worker("worker-1", addr, key, 8, agent(log, "0.05"))

	testutil.Eventually(t, 60*time.Second, "50 tasks to succeed", func() bool { return statuses(t, c)[api.TaskSucceeded] >= 50 })
	srv.kill9(t)
	srv = cl.server("server-2", addr)
	testutil.Eventually(t, 60*time.Second, "100 tasks to succeed", func() bool { return statuses(t, c)[api.TaskSucceeded] >= 100 })
	work.kill9(t)
	cl.worker("worker-2", addr, key, 8, agent(log, "0.05"))
	testutil.Eventually(t, 120*time.Second, "all 200 tasks to succeed", func() bool { return statuses(t, c)[api.TaskSucceeded] == 200 })
	verifyExactlyOnce(t, c, ids, executions(t, log))
	_ = srv
}

// TestCrashRecoverySQLite: 200 tasks through kill -9 of the server and of
// the worker; every task succeeds exactly once and none is lost.
func TestCrashRecoverySQLite(t *testing.T) { testCrashRecovery(t, "") }

// TestCrashRecoveryPostgres is the same on PostgreSQL.
func TestCrashRecoveryPostgres(t *testing.T) {
	url := os.Getenv("BATON_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("BATON_TEST_POSTGRES_URL not set")
	}
	testCrashRecovery(t, url)
}

// TestZombieWorkerIsFenced: a worker frozen past its lease (SIGSTOP) loses
// the task to another worker; when it wakes, its completion is refused.
func TestZombieWorkerIsFenced(t *testing.T) {
	cl := newCluster(t, "")
	addr := freePort(t)
	cl.server("server", addr)
	c, key := cl.tenant(addr, "zombie")
	log := filepath.Join(t.TempDir(), "executions.log")
	// The zombie heartbeats rarely, so when it wakes its agent finishes and
	// it reports completion before its next heartbeat: the path to prove is
	// that the completion itself is refused. (With frequent heartbeats the
	// zombie learns at its first heartbeat and kills its agent instead.)
	zombie := cl.worker("zombie", addr, key, 1, agent(log, "1"), "--heartbeat", "30s")
	ids := submitAll(t, c, 1)
	testutil.Eventually(t, 30*time.Second, "the task to start", func() bool { return statuses(t, c)[api.TaskRunning] == 1 })
	zombie.signal(syscall.SIGSTOP)
	cl.worker("rescuer", addr, key, 1, agent(log, "0.1"))
	testutil.Eventually(t, 30*time.Second, "the rescuer to finish the task", func() bool { return statuses(t, c)[api.TaskSucceeded] == 1 })
	zombie.signal(syscall.SIGCONT)
	// The zombie's agent finishes its sleep and the zombie reports: refused.
	testutil.Eventually(t, 30*time.Second, "the zombie's agent to finish", func() bool { return len(executions(t, log)[ids[0]]) == 2 })
	testutil.Eventually(t, 30*time.Second, "the zombie to be told it was fenced off", func() bool {
		out := zombie.out.String()
		return strings.Contains(out, "fenced") || strings.Contains(out, "stale")
	})
	task, err := c.GetTask(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != api.TaskSucceeded || task.Attempt != 2 || task.Attempts[0].Status == api.TaskSucceeded {
		t.Fatalf("task after the zombie woke: %+v", task)
	}
	verifyExactlyOnce(t, c, ids, executions(t, log))
}

// TestReplicasShareOneQueue: two servers on one PostgreSQL; tasks submitted
// on one, workers on both; no task runs twice.
func TestReplicasShareOneQueue(t *testing.T) {
	url := os.Getenv("BATON_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("BATON_TEST_POSTGRES_URL not set")
	}
	cl := newCluster(t, url)
	a, b := freePort(t), freePort(t)
	cl.server("replica-a", a)
	cl.server("replica-b", b)
	c, key := cl.tenant(a, "replicas")
	log := filepath.Join(t.TempDir(), "executions.log")
	cl.worker("worker-a", a, key, 4, agent(log, "0.02"))
	cl.worker("worker-b", b, key, 4, agent(log, "0.02"))
	ids := submitAll(t, c, 100)
	testutil.Eventually(t, 60*time.Second, "all 100 tasks to succeed", func() bool { return statuses(t, c)[api.TaskSucceeded] == 100 })
	execs := executions(t, log)
	for _, id := range ids {
		if len(execs[id]) != 1 {
			t.Fatalf("task %s ran %d times", id, len(execs[id]))
		}
	}
	verifyExactlyOnce(t, c, ids, execs)
}
