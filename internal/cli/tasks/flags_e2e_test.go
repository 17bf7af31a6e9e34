package tasks_test

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
)

// TestConsistentFlags (issue 16 row 7): --label is repeatable with AND
// semantics; --run-timeout above the tier's maximum is warned about; the
// old --timeout still sets the task's limit, with a notice on stderr only.
func TestConsistentFlags(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme") // free tier: 5 minutes at most
	var both string
	for _, labels := range [][]string{{"env=prod", "team=a"}, {"env=prod", "team=b"}, {"env=dev", "team=a"}} {
		args := []string{"tasks", "submit", "-q"}
		for _, l := range labels {
			args = append(args, "--label", l)
		}
		r := e.RunAs(owner, args...).Want(t, 0)
		if labels[0] == "env=prod" && labels[1] == "team=a" {
			both = strings.TrimSpace(r.Stdout)
		}
	}
	r := e.RunAs(owner, "tasks", "list", "--label", "env=prod", "--label", "team=a", "-q").Want(t, 0)
	if r.Stdout != both+"\n" {
		t.Fatalf("--label env=prod --label team=a: %q, want only %s", r.Stdout, both)
	}
	r = e.RunAs(owner, "tasks", "list", "--label", "env=prod", "--label", "team=a", "--limit", "1", "--all", "--jq", "length").Want(t, 0)
	if r.Stdout != "1\n" {
		t.Fatalf("--all with two labels: %q", r.Stdout)
	}
	if r := e.RunAs(owner, "tasks", "list", "--label", "env=prod", "-q").Want(t, 0); strings.Count(r.Stdout, "\n") != 2 {
		t.Fatalf("one label: %q", r.Stdout)
	}

	r = e.RunAs(owner, "tasks", "submit", "--run-timeout", "2h", "-q").Want(t, 0)
	if !strings.Contains(r.Stderr, "warning: --run-timeout 2h is above the free tier's maximum of 5m: the task stops at 5m") {
		t.Fatalf("no tier warning: %s", r.Stderr)
	}
	if r := e.RunAs(owner, "tasks", "submit", "--run-timeout", "2m", "-q").Want(t, 0); r.Stderr != "" {
		t.Fatalf("warning within the maximum: %s", r.Stderr)
	}
	r = e.RunAs(owner, "tasks", "submit", "--timeout", "2m", "-o", "json").Want(t, 0)
	if !strings.HasPrefix(r.Stdout, "{") || !strings.Contains(r.Stderr, "warning: --timeout on tasks submit is deprecated: use --run-timeout") {
		t.Fatalf("old --timeout: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if got := clitest.JSON[map[string]any](t, r)["timeout_seconds"]; got != float64(120) {
		t.Fatalf("timeout_seconds = %v", got)
	}
}

// TestListWatch: --watch redraws the list on a terminal, --count times;
// piped it is a usage error.
func TestListWatch(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	id := strings.TrimSpace(e.RunAs(owner, "tasks", "submit", "-q").Want(t, 0).Stdout)
	r := e.Exec(clitest.Invocation{Args: []string{"tasks", "list", "--watch", "--interval", "10ms", "--count", "3"}, TTY: true,
		Env: map[string]string{"BATON_API_KEY": owner}}).Want(t, 0)
	if n := strings.Count(r.Stdout, "\x1b[H\x1b[2J"); n != 3 || strings.Count(r.Stdout, id) != 3 || !strings.Contains(r.Stdout, "Every 10ms: baton tasks list") {
		t.Fatalf("%d redraws:\n%q", n, r.Stdout)
	}
	e.RunAs(owner, "tasks", "list", "--watch").Want(t, 2)
	e.RunAs(owner, "tasks", "list", "--watch", "--interval", "0s").Want(t, 2)
}
