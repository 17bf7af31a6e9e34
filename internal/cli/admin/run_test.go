package admin_test

import (
	"encoding/json"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/config"
)

// run runs inv through cli.Run, exactly as the binary does.
func run(t *testing.T, e *clitest.Env, inv clitest.Invocation) clitest.Result {
	t.Helper()
	return e.Exec(inv)
}

// exec runs args piped with the Env's key; tty runs them on a terminal 160
// columns wide.
func exec(t *testing.T, e *clitest.Env, args ...string) clitest.Result {
	return run(t, e, clitest.Invocation{Args: args, Env: map[string]string{config.EnvAPIKey: e.Key}})
}

func tty(t *testing.T, e *clitest.Env, args ...string) clitest.Result {
	return run(t, e, clitest.Invocation{Args: args, TTY: true, Width: 160, Env: map[string]string{config.EnvAPIKey: e.Key}})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
