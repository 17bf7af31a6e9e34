package cli_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/genericcorp/baton/internal/cli"
	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/iostreams"
)

// TestMain lets the scripts run `baton` as a command: testscript runs this
// test binary as baton, in its own process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"baton": func() {
			os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, iostreams.SystemWithEnv(os.Getenv)))
		},
	})
}

// TestScripts runs testdata/script/*.txtar against a real server: scripts
// that use baton as a shell script would, reading results back with only
// -q, --jq and --template (no jq, no other tool). `capture VAR` sets VAR
// to the last command's standard output, trimmed.
func TestScripts(t *testing.T) {
	e := clitest.NewServer(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/config")
			env.Setenv("BATON_SERVER", e.URL)
			env.Setenv("BATON_API_KEY", e.Key)
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"capture": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: capture VAR")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
			},
		},
	})
}
