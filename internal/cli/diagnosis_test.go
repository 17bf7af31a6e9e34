package cli_test

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/config"
)

// closedURL is a loopback URL where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// TestDiagnoses (issue 16 row 5): each mistake is named for what it is,
// with the exit code of CONTRACT.md and the error said once.
func TestDiagnoses(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	ws, _ := e.NewTenant(t, "acme")
	down := closedURL(t)
	cases := []struct {
		name string
		inv  clitest.Invocation
		code int
		want []string
	}{
		{"unknown profile", clitest.Invocation{Args: []string{"tasks", "list", "--profile", "nope"}, Env: map[string]string{config.EnvAPIKey: ""}},
			2, []string{`error: no profile "nope" (from --profile)`, "hint: create it with `baton login --profile nope`"}},
		{"unknown profile from env", clitest.Invocation{Args: []string{"keys", "list"}, Env: map[string]string{config.EnvAPIKey: "", config.EnvProfile: "ghost"}},
			2, []string{`error: no profile "ghost" (from BATON_PROFILE)`}},
		{"server down", clitest.Invocation{Args: []string{"tasks", "list", "--server", down}},
			1, []string{"error: cannot reach the server at " + down + " (from --server): connection refused", "hint: is it running? Start a local one with `baton dev`"}},
		{"bad scope", clitest.Invocation{Args: []string{"keys", "create", "--scope", "tasks:reed"}},
			2, []string{`error: --scope: unknown scope "tasks:reed"`}},
		{"typo in a subcommand", clitest.Invocation{Args: []string{"tasks", "lst"}},
			2, []string{`error: unknown command "lst" for "baton tasks"`, "\tlist\n", "hint: `baton tasks --help` lists the commands"}},
		{"typo in a command", clitest.Invocation{Args: []string{"taks"}},
			2, []string{"Did you mean this?\n\ttasks"}},
		{"not a number", clitest.Invocation{Args: []string{"tasks", "list", "--limit", "abc"}},
			2, []string{`error: invalid value "abc" for --limit: not a whole number`}},
		{"unknown workspace name", clitest.Invocation{Args: []string{"tasks", "list", "--workspace", "nosuch"}},
			3, []string{`error: no workspace named "nosuch"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.inv.Env == nil {
				c.inv.Env = map[string]string{config.EnvAPIKey: e.Key}
			}
			start := time.Now()
			r := e.Exec(c.inv).Want(t, c.code)
			for _, w := range c.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.Stderr)
				}
			}
			if n := strings.Count(r.Stderr, "error:"); n != 1 {
				t.Errorf("%d error lines:\n%s", n, r.Stderr)
			}
			if strings.Contains(r.Stderr, "strconv") || strings.Contains(r.Stderr, "dial tcp") {
				t.Errorf("raw Go error reaches the user:\n%s", r.Stderr)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s: want a fast failure", d)
			}
		})
	}

	// A workspace given by name is found (operator key).
	r := e.Run("tasks", "list", "--workspace", "acme", "-o", "json").Want(t, 0)
	if strings.TrimSpace(r.Stdout) != "[]" {
		t.Fatalf("--workspace acme: %s", r.Stdout)
	}
	r = e.Run("workspaces", "get", ws.ID, "--workspace", "acme", "-q").Want(t, 0)
	if r.Stdout != ws.ID+"\n" {
		t.Fatalf("-q: %q", r.Stdout)
	}
}
