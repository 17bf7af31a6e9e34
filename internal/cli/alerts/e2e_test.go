package alerts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// TestE2E lists and acknowledges alerts raised in the store of a real
// server: open ones by default, every one with --all; ack is idempotent,
// an unknown or another tenant's id is exit 3.
func TestE2E(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, owner := e.NewTenant(t, "acme")
	_, other := e.NewTenant(t, "globex")
	ctx := context.Background()
	now := time.Now().UTC()
	raise := func(metric string, threshold int, value, limit float64) string {
		a := store.Alert{ID: ids.New(ids.Alert), WorkspaceID: ws.ID, Kind: api.AlertThreshold, Metric: metric, Threshold: threshold,
			Period: now.Format("2006-01"), Value: value, Limit: limit, Message: metric + " crossed", CreatedAt: now}
		if ok, err := e.Store.RaiseAlert(ctx, a); err != nil || !ok {
			t.Fatalf("raise: %v %v", ok, err)
		}
		return a.ID
	}
	spend := raise(api.QuotaSpend, 80, 4_000_000, 5_000_000)
	execs := raise(api.QuotaTaskExecutions, 100, 1000, 1000)

	list := clitest.JSON[[]api.Alert](t, e.RunAs(owner, "alerts", "list", "-o", "json").Want(t, 0))
	if len(list) != 2 || list[0].ID != execs || list[1].ID != spend {
		t.Fatalf("open alerts = %+v", list)
	}
	r := e.RunAs(owner, "alerts", "list").Want(t, 0)
	if !strings.Contains(r.Stdout, spend+"\tthreshold\tspend_usd\t80\t") || !strings.Contains(r.Stdout, "\t4\t5\t") {
		t.Fatalf("piped:\n%s", r.Stdout)
	}

	r = e.RunAs(owner, "alerts", "ack", spend).Want(t, 0)
	if !strings.Contains(r.Stderr, "Acknowledged alert "+spend) {
		t.Fatalf("ack stderr %q", r.Stderr)
	}
	first := clitest.JSON[api.Alert](t, e.RunAs(owner, "alerts", "ack", spend, "-o", "json").Want(t, 0))
	if first.AckedAt == nil {
		t.Fatalf("acked = %+v", first)
	}
	if list := clitest.JSON[[]api.Alert](t, e.RunAs(owner, "alerts", "list", "-o", "json").Want(t, 0)); len(list) != 1 || list[0].ID != execs {
		t.Fatalf("open after ack = %+v", list)
	}
	all := clitest.JSON[[]api.Alert](t, e.RunAs(owner, "alerts", "list", "--all", "--limit", "1", "-o", "json").Want(t, 0))
	if len(all) != 2 || all[1].AckedAt == nil {
		t.Fatalf("--all = %+v", all)
	}

	// Another tenant's id is not found, as is an unknown one; an operator
	// without --workspace gets a hint, with it the workspace's alerts.
	e.RunAs(other, "alerts", "ack", execs).Want(t, 3)
	e.RunAs(owner, "alerts", "ack", "alert_01jdzzzzzzzzzzzzzzzzzzzzzz").Want(t, 3)
	if r := e.Run("alerts", "list"); r.Code == 0 || !strings.Contains(r.Stderr, "--workspace") {
		t.Fatalf("operator without --workspace: exit %d\n%s", r.Code, r.Stderr)
	}
	if got := clitest.JSON[[]api.Alert](t, e.Run("alerts", "list", "--workspace", ws.ID, "-o", "json").Want(t, 0)); len(got) != 1 {
		t.Fatalf("operator's list = %+v", got)
	}
	k := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--scope", "tasks:read", "-o", "json").Want(t, 0))
	e.RunAs(k.Secret, "alerts", "list").Want(t, 4)
}
