package usage_test

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// TestE2E runs report and quota against a real server: a new tenant's
// quota, its usage report in every form, and the errors a script sees.
func TestE2E(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, owner := e.NewTenant(t, "acme")

	q := clitest.JSON[api.Quota](t, e.RunAs(owner, "usage", "quota", "-o", "json").Want(t, 0))
	if q.WorkspaceID != ws.ID || q.Tier != ws.Tier || len(q.Metrics) == 0 || len(q.Exceeded) != 0 {
		t.Fatalf("quota = %+v", q)
	}
	r := e.RunAs(owner, "usage", "quota").Want(t, 0)
	if !strings.HasPrefix(r.Stdout, "name\tused\tlimit\tremaining\tpercent\n") || !strings.Contains(r.Stdout, "\nspend_usd\t") ||
		!strings.Contains(r.Stderr, "period:") {
		t.Fatalf("quota piped:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	}

	s := clitest.JSON[api.UsageSeries](t, e.RunAs(owner, "usage", "report", "-o", "json").Want(t, 0))
	if s.WorkspaceID != ws.ID || s.Granularity != "day" || s.From.Day() != 1 {
		t.Fatalf("series = %+v", s)
	}
	for _, args := range [][]string{
		{"usage", "report", "--from", "7d", "--by", "hour"},
		{"usage", "report", "--from", "24h", "--to", "now", "-o", "csv"},
	} {
		r := e.RunAs(owner, args...).Want(t, 0)
		if !strings.HasPrefix(r.Stdout, "start") {
			t.Errorf("%v:\n%s", args, r.Stdout)
		}
	}
	// The operator acts on the workspace with --workspace.
	if q := clitest.JSON[api.Quota](t, e.Run("usage", "quota", "--workspace", ws.ID, "-o", "json").Want(t, 0)); q.WorkspaceID != ws.ID {
		t.Fatalf("operator's quota = %+v", q)
	}

	// An operator key without --workspace: a usage error (exit 2), as the
	// server found, with a hint — for every command acting on a workspace.
	for _, args := range [][]string{{"usage", "quota"}, {"alerts", "list"}, {"tasks", "list"}} {
		if r := e.Run(args...).Want(t, 2); !strings.Contains(r.Stderr, "hint: an operator key acts on one workspace here: pass --workspace ID") {
			t.Fatalf("%v stderr: %s", args, r.Stderr)
		}
	}

	// A key without usage:read: exit 4. A range the server refuses (by hour
	// over more than 31 days): exit 1. Bad flags: exit 2, no request.
	k := clitest.JSON[api.Key](t, e.RunAs(owner, "keys", "create", "--scope", "tasks:read", "-o", "json").Want(t, 0))
	e.RunAs(k.Secret, "usage", "quota").Want(t, 4)
	e.RunAs(k.Secret, "usage", "report").Want(t, 4)
	e.RunAs(owner, "usage", "report", "--from", "90d", "--by", "hour").Want(t, 1)
	e.RunAs(owner, "usage", "report", "--by", "week").Want(t, 2)
}
