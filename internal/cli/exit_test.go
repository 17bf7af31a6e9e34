package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

func TestExitCodes(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	apiErr := func(c api.Code) error {
		return fmt.Errorf("wrapped: %w", &client.APIError{Code: c, Status: c.Status()})
	}
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"nil", live, nil, 0},
		{"plain", live, errors.New("boom"), 1},
		{"flag", live, cmdutil.FlagErrorf("bad"), 2},
		{"cobra unknown command", live, errors.New(`unknown command "x" for "baton"`), 2},
		{"cobra unknown flag", live, errors.New("unknown flag: --nope"), 2},
		{"not found", live, apiErr(api.CodeNotFound), 3},
		{"unauthenticated", live, apiErr(api.CodeUnauthenticated), 4},
		{"forbidden", live, apiErr(api.CodeForbidden), 4},
		{"suspended", live, apiErr(api.CodeWorkspaceSuspended), 4},
		{"not logged in", live, cmdutil.ErrNotLoggedIn, 4},
		{"rate limited", live, apiErr(api.CodeRateLimited), 5},
		{"quota", live, apiErr(api.CodeQuotaExceeded), 6},
		{"conflict", live, apiErr(api.CodeConflict), 1},
		{"exit error", live, &cmdutil.ExitError{Code: 12}, 12},
		{"interrupted", cancelled, fmt.Errorf("list: %w", context.Canceled), 130},
		{"timeout flag", live, fmt.Errorf("list: %w", context.DeadlineExceeded), 1},
	}
	for _, c := range cases {
		if got := exitCode(c.ctx, c.err); got != c.want {
			t.Errorf("%s: exit %d, want %d", c.name, got, c.want)
		}
	}
}

// run executes a command line with test streams and a fake environment.
func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["XDG_CONFIG_HOME"]; !ok {
		env["XDG_CONFIG_HOME"] = t.TempDir()
	}
	f := cmdutil.New(ios, func(k string) string { return env[k] })
	code = Run(context.Background(), f, args)
	return out.String(), errOut.String(), code
}

func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"nope"},
		{"keys"},
		{"keys", "nope"},
		{"--nope"},
		{"version", "extra"},
		{"completion"},
		{"completion", "tcsh"},
		{"-o", "xml", "version"},
	} {
		_, stderr, code := run(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "error:") {
			t.Errorf("baton %v: exit %d, stderr %q; want 2 with an error", args, code, stderr)
		}
	}
}

func TestJSONErrorEnvelope(t *testing.T) {
	stdout, stderr, code := run(t, map[string]string{"BATON_SERVER": "http://127.0.0.1:1"}, "keys", "list", "-o", "json")
	if code != 4 || stdout != "" {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
	var env struct {
		Error struct{ Code, Message, Hint string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(stderr), &env); err != nil || env.Error.Message == "" || env.Error.Hint == "" {
		t.Fatalf("stderr is not the JSON envelope: %q (%v)", stderr, err)
	}
}

func TestVersionJSON(t *testing.T) {
	stdout, _, code := run(t, nil, "version", "-o", "json")
	var v struct{ Version, GoVersion string }
	if code != 0 || json.Unmarshal([]byte(stdout), &v) != nil || v.Version == "" {
		t.Fatalf("exit %d stdout %q", code, stdout)
	}
}

func TestCompletionScripts(t *testing.T) {
	// Each script is the shell's own kind, not just any text naming baton.
	marks := map[string]string{"bash": "__start_baton", "zsh": "#compdef baton",
		"fish": "complete -c baton", "powershell": "Register-ArgumentCompleter"}
	for sh, mark := range marks {
		stdout, _, code := run(t, nil, "completion", sh)
		if code != 0 || !strings.Contains(stdout, mark) {
			t.Errorf("completion %s: exit %d, %d bytes, no %q", sh, code, len(stdout), mark)
		}
	}
}
