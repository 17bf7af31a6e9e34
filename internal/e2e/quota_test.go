package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// TestQuotaStopsRealAgents runs the hard quota through real processes: a
// free workspace (2 concurrent tasks) with a 3 s execution quota and a
// worker running agents that would sleep 60 s. The server terminates both
// running tasks at a heartbeat, the worker kills the agents (their pids are
// gone), the third task stays held, usage stays within the bound, and a
// new submit is still accepted (execution seconds hold, they do not refuse).
func TestQuotaStopsRealAgents(t *testing.T) {
	cl := newCluster(t, "")
	addr := freePort(t)
	cl.server("server", addr)
	ctx := context.Background()
	c, key := cl.tenantWith(addr, "capped", "free", map[string]int64{api.LimitMonthlyExecutionSeconds: 3})
	pids := t.TempDir()
	// Each agent writes its pid, then sleeps far past the quota.
	cl.worker("worker", addr, key, 2, `echo $$ > `+pids+`/$BATON_TASK_ID; exec sleep 60`)
	var ids []string
	for i := range 3 {
		task, err := c.SubmitTask(ctx, api.SubmitTaskRequest{}, fmt.Sprint("quota-", i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, task.ID)
	}
	testutil.Eventually(t, 30*time.Second, "both running tasks to be terminated", func() bool {
		return statuses(t, c)[api.TaskTerminated] == 2
	})
	// The agents are gone: the worker killed their process groups.
	for _, id := range ids[:2] {
		b, err := os.ReadFile(filepath.Join(pids, id))
		if err != nil {
			t.Fatalf("agent of %s never started: %v", id, err)
		}
		pid := strings.TrimSpace(string(b))
		testutil.Eventually(t, 10*time.Second, "agent "+pid+" to be killed", func() bool {
			_, err := os.Stat("/proc/" + pid)
			return os.IsNotExist(err)
		})
	}
	third, err := c.GetTask(ctx, ids[2])
	if err != nil {
		t.Fatal(err)
	}
	if third.Status != api.TaskQueued || !strings.HasPrefix(third.StatusReason, "held: ") {
		t.Fatalf("third task = %s (%q), want held", third.Status, third.StatusReason)
	}
	q, err := c.Quota(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := q.Metric(api.QuotaExecutionSeconds)
	// Bound: the quota + 2 running tasks × the 500 ms heartbeat interval
	// (whole seconds in the gauge).
	t.Logf("execution seconds used %d of %d; held %d", m.Used, m.Limit, q.Held)
	if m.Used < 3 || m.Used > 4 || q.Held != 1 {
		t.Fatalf("quota = %+v, held %d", m, q.Held)
	}
	_, err = c.SubmitTask(ctx, api.SubmitTaskRequest{}, "")
	if err != nil {
		t.Fatalf("submit with execution seconds used up: %v (want accepted and held)", err)
	}
}
