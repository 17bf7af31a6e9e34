package cli_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

// TestRootHelp (issue 16 row 11): the root help groups its commands and
// lists the help topics as `baton help TOPIC`; each topic reads.
func TestRootHelp(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, nil)
	r := e.Run("--help").Want(t, 0)
	clitest.Golden(t, "root_help", r.Stdout)
	for _, want := range []string{"Core commands:\n", "Operations:\n", "Setup:\n", "Additional commands:\n", "  baton help exit-codes "} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("root help lacks %q", want)
		}
	}
	for topic, want := range map[string]string{"environment": "BATON_API_KEY", "exit-codes": "130  interrupted",
		"formatting": "tablerow", "config": "current_profile"} {
		if r := e.Run("help", topic).Want(t, 0); !strings.Contains(r.Stdout, want) {
			t.Errorf("help %s lacks %q:\n%s", topic, want, r.Stdout)
		}
	}
}

// TestVersionShowsServer: `version` asks the server for its version, and
// still answers when there is none.
func TestVersionShowsServer(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, clitest.Routes{"GET /healthz": api.Health{Status: "ok", Version: "v1.2.3"}})
	var v map[string]any
	if err := json.Unmarshal([]byte(e.Run("version", "-o", "json").Want(t, 0).Stdout), &v); err != nil {
		t.Fatal(err)
	}
	if v["server_version"] != "v1.2.3" || v["server"] != e.URL || v["version"] == "" {
		t.Fatalf("version: %v", v)
	}
	r := e.Exec(clitest.Invocation{Args: []string{"version"}, Env: map[string]string{"BATON_SERVER": closedURL(t)}}).Want(t, 0)
	if !strings.Contains(r.Stdout, "server_version\tunreachable (no answer)") {
		t.Fatalf("version without a server:\n%s", r.Stdout)
	}
}
