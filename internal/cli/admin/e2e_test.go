package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// TestE2E runs costs and usage against a real server with two tenants.
func TestE2E(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	acme, owner := e.NewTenant(t, "acme")
	globex, _ := e.NewTenant(t, "globex")

	rows := clitest.JSON[[]api.WorkspaceCost](t, e.Run("admin", "costs", "-o", "json").Want(t, 0))
	if len(rows) < 2 {
		t.Fatalf("costs = %+v", rows)
	}
	seen := map[string]bool{}
	for _, w := range rows {
		seen[w.WorkspaceID] = true
		if w.MarginMicros != w.RevenueMicros-w.CostMicros {
			t.Errorf("%s: margin %d ≠ %d − %d", w.WorkspaceID, w.MarginMicros, w.RevenueMicros, w.CostMicros)
		}
	}
	if !seen[acme.ID] || !seen[globex.ID] {
		t.Fatalf("costs without the tenants: %+v", rows)
	}
	r := e.Run("admin", "costs", "--period", time.Now().UTC().Format("2006-01")).Want(t, 0)
	if !strings.HasPrefix(r.Stdout, "workspace\tname\ttier\trevenue_usd\t") || !strings.Contains(r.Stdout, acme.ID+"\tacme\t") {
		t.Fatalf("costs piped:\n%s", r.Stdout)
	}
	e.Run("admin", "costs", "--period", "2025-01").Want(t, 0)

	qs := clitest.JSON[[]api.Quota](t, e.Run("admin", "usage", "-o", "json").Want(t, 0))
	seen = map[string]bool{}
	for _, q := range qs {
		seen[q.WorkspaceID] = true
	}
	if !seen[acme.ID] || !seen[globex.ID] {
		t.Fatalf("usage = %+v", qs)
	}
	if r := e.Run("admin", "usage", "-o", "csv").Want(t, 0); !strings.Contains(r.Stdout, acme.ID+",acme,") {
		t.Fatalf("usage csv:\n%s", r.Stdout)
	}

	// A workspace key is not an operator key: exit 4. A bad period: exit 2.
	e.RunAs(owner, "admin", "costs").Want(t, 4)
	e.RunAs(owner, "admin", "usage").Want(t, 4)
	e.Run("admin", "costs", "--period", "2026-13").Want(t, 2)
}
