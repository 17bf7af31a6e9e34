package cli_test

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// TestEmptyListsHint (issue 16 row 10): every list that comes back empty
// (usage report and admin costs end with a totals row, so are never
// empty) says on a terminal what would fill it, on stderr, and draws no table;
// piped it prints the header only, for scripts, with no hint.
func TestEmptyListsHint(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, clitest.Routes{
		"GET /v1/workspaces":       api.List[api.Workspace]{Data: []api.Workspace{}},
		"GET /v1/keys":             api.List[api.Key]{Data: []api.Key{}},
		"GET /v1/alerts":           api.List[api.Alert]{Data: []api.Alert{}},
		"GET /v1/tasks":            api.List[api.Task]{Data: []api.Task{}},
		"GET /v1/tasks/{id}/steps": api.StepList{Data: []api.Step{}},
		"GET /v1/usage":            api.UsageSeries{Series: map[string][]api.UsagePoint{}},
		"GET /v1/admin/usage":      api.List[api.Quota]{Data: []api.Quota{}},
		"GET /v1/admin/costs":      api.CostReport{Data: []api.WorkspaceCost{}},
		"GET /v1/workers":          api.List[api.Worker]{Data: []api.Worker{}},
		"GET /v1/queues":           api.List[api.Queue]{Data: []api.Queue{}},
	}.Shared())
	for _, c := range []struct {
		args []string
		hint string
	}{
		{[]string{"workspaces", "list"}, "no workspaces: create one with `baton workspaces create NAME`"},
		{[]string{"keys", "list"}, "no keys: create one with `baton keys create"},
		{[]string{"alerts", "list"}, "no open alerts (`baton alerts list --all`"},
		{[]string{"alerts", "list", "--all"}, "no alerts: one is raised when usage crosses"},
		{[]string{"tasks", "list"}, "no tasks: submit one with `baton tasks submit`"},
		{[]string{"tasks", "steps", "task_01jd0000000000000000000001"}, "no steps yet"},
		{[]string{"admin", "usage"}, "no workspaces: create one"},
		{[]string{"workers", "list"}, "no worker has polled in the last minute"},
		{[]string{"queues", "list"}, "no queues yet"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			tty := e.TTY(c.args...).Want(t, 0)
			if strings.TrimSpace(tty.Stdout) != "" || !strings.Contains(tty.Stderr, c.hint) || strings.Contains(tty.Stderr, "nothing to show") {
				t.Errorf("terminal: stdout %q, stderr %q; want the hint %q", tty.Stdout, tty.Stderr, c.hint)
			}
			piped := e.Run(c.args...).Want(t, 0)
			if strings.Count(piped.Stdout, "\n") != 1 || strings.Contains(piped.Stderr, c.hint) {
				t.Errorf("piped: stdout %q, stderr %q; want the header only", piped.Stdout, piped.Stderr)
			}
		})
	}
}
