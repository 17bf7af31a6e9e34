package statuscmd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
	"github.com/genericcorp/baton/pkg/config"
)

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

// lines returns the doctor's check lines by check name: its mark.
func marks(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) >= 2 && (f[0] == "✓" || f[0] == "!" || f[0] == "✗") {
			m[f[1]] = f[0]
		}
	}
	return m
}

func wantMarks(t *testing.T, out string, want map[string]string) {
	t.Helper()
	got := marks(out)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("check %s = %q, want %q\n%s", k, got[k], v, out)
		}
	}
}

// TestDoctorStoppedServer: ✗ server with its fix, exit 1.
func TestDoctorStoppedServer(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, nil)
	down := closedURL(t)
	r := e.Exec(clitest.Invocation{Args: []string{"doctor"}, Env: map[string]string{config.EnvServer: down, config.EnvAPIKey: "bk_x"}}).Want(t, 1)
	wantMarks(t, r.Stdout, map[string]string{"config": "!", "profile": "✓", "server": "✗", "tls": "✓"})
	if !strings.Contains(r.Stdout, down+" does not answer: connect: connection refused") || !strings.Contains(r.Stdout, "fix: start it (`baton dev`") {
		t.Fatalf("doctor:\n%s", r.Stdout)
	}
	if r.Stderr != "" {
		t.Fatalf("stderr: %s", r.Stderr)
	}
	// -o json: the same checks as data.
	r = e.Exec(clitest.Invocation{Args: []string{"doctor", "-o", "json"}, Env: map[string]string{config.EnvServer: down, config.EnvAPIKey: "bk_x"}}).Want(t, 1)
	checks := clitest.JSON[[]map[string]string](t, r)
	if len(checks) != 4 || checks[2]["name"] != "server" || checks[2]["status"] != "fail" || checks[2]["fix"] == "" {
		t.Fatalf("json: %v", checks)
	}
}

// TestDoctorKeys: an expired key is ✗ (exit 1); one expiring within 7 days
// is ! (exit 0); plain HTTP to another host is !.
func TestDoctorKeys(t *testing.T) {
	t.Parallel()
	health := api.Health{Status: "ok", Version: "v9.9.9"}
	expired := clitest.NewStub(t, clitest.Routes{
		"GET /healthz": health,
		"GET /v1/me": clitest.Reply{Status: 401, Body: map[string]any{"code": "unauthenticated", "status": 401,
			"title": "Unauthenticated", "detail": "the API key expired"}},
	})
	r := expired.Run("doctor").Want(t, 1)
	wantMarks(t, r.Stdout, map[string]string{"server": "✓", "clock": "✓", "key": "✗"})
	if !strings.Contains(r.Stdout, "the server refuses the key: the API key expired") || !strings.Contains(r.Stdout, "version v9.9.9") {
		t.Fatalf("expired:\n%s", r.Stdout)
	}

	soon := clitest.At(3*24*time.Hour + time.Hour)
	expiring := clitest.NewStub(t, clitest.Routes{
		"GET /healthz":    health,
		"GET /v1/me":      api.Me{Workspace: &api.Workspace{ID: "ws_01jd0000000000000000000001", Name: "acme"}, Key: api.MeKey{ID: "key_01jd0000000000000000000001", Name: "ci", ExpiresAt: &soon}},
		"GET /v1/workers": api.List[api.Worker]{Data: []api.Worker{{ID: "w-1"}}},
	})
	r = expiring.Run("doctor").Want(t, 0)
	wantMarks(t, r.Stdout, map[string]string{"key": "!", "workers": "✓"})
	if !strings.Contains(r.Stdout, "ci (key_01jd0000000000000000000001) in workspace acme expires in 3d") &&
		!strings.Contains(r.Stdout, "expires in 73h") {
		t.Fatalf("expiring:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "fix: `baton keys rotate key_01jd0000000000000000000001`") {
		t.Fatalf("no rotate fix:\n%s", r.Stdout)
	}
}

// TestDoctorHealthy: a logged-in profile against a local server over
// plain HTTP on loopback is all ✓ but the workers (none polls), exit 0;
// with a worker polling, all ✓. A config readable by others is ✗.
func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	_, owner := e.NewTenant(t, "acme")
	noKey := map[string]string{config.EnvAPIKey: ""}
	e.Exec(clitest.Invocation{Args: []string{"login", "--with-token"}, Stdin: owner + "\n", Env: noKey}).Want(t, 0)
	r := e.Exec(clitest.Invocation{Args: []string{"doctor"}, Env: noKey}).Want(t, 0)
	wantMarks(t, r.Stdout, map[string]string{"config": "✓", "profile": "✓", "server": "✓", "tls": "✓", "clock": "✓", "key": "✓", "workers": "!"})
	if !strings.Contains(r.Stdout, "plain HTTP on loopback") {
		t.Fatalf("healthy:\n%s", r.Stdout)
	}

	c, err := client.New(e.URL, client.WithAPIKey(owner))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClaimTasks(context.Background(), api.ClaimRequest{Queues: []string{"default"}, WorkerID: "w-doctor", MaxTasks: 1}); err != nil {
		t.Fatal(err)
	}
	r = e.Exec(clitest.Invocation{Args: []string{"doctor"}, Env: noKey}).Want(t, 0)
	wantMarks(t, r.Stdout, map[string]string{"workers": "✓"})

	if err := os.Chmod(e.ConfigPath, 0o644); err != nil {
		t.Fatal(err)
	}
	r = e.Exec(clitest.Invocation{Args: []string{"doctor"}, Env: noKey}).Want(t, 1)
	wantMarks(t, r.Stdout, map[string]string{"config": "✗"})
	if !strings.Contains(r.Stdout, "fix: chmod 600 "+e.ConfigPath) {
		t.Fatalf("mode:\n%s", r.Stdout)
	}
}

func TestDoctorPlainHTTPElsewhere(t *testing.T) {
	t.Parallel()
	// The TLS check reads the URL only: a name that does not resolve is fine.
	e := clitest.NewStub(t, nil)
	r := e.Exec(clitest.Invocation{Args: []string{"doctor"}, Env: map[string]string{config.EnvServer: "http://baton.invalid:7070", config.EnvAPIKey: "bk_x"}}).Want(t, 1)
	wantMarks(t, r.Stdout, map[string]string{"server": "✗", "tls": "!"})
}

// TestStatus: the workspace at a glance against a real server, at 80 and
// 120 columns (golden), and as JSON.
func TestStatus(t *testing.T) {
	t.Parallel()
	at := time.Now().UTC()
	e := clitest.NewStub(t, clitest.Routes{
		"GET /v1/usage/quota": api.Quota{WorkspaceID: "ws_01jd0000000000000000000001", WorkspaceName: "acme", Tier: "pro", Status: "active",
			Period: "2026-12", ResetsIn: 28*86400 + 3600, Running: 3, Queued: 1250, Held: 0, At: at,
			Metrics: []api.QuotaMetric{
				{Name: api.QuotaTaskExecutions, Used: 15500, Limit: 50000, Remaining: 34500, Percent: 31, Enforced: true},
				{Name: api.QuotaExecutionSeconds, Used: 170000, Limit: 180000, Remaining: 10000, Percent: 94.4, Enforced: true},
				{Name: api.QuotaSpend, Used: 12_500_000, Limit: 200_000_000, Remaining: 187_500_000, Percent: 6.25, Enforced: true},
			}},
		"GET /v1/workers": api.List[api.Worker]{Data: []api.Worker{{ID: "w-build-01"}, {ID: "w-laptop"}}},
		"GET /v1/alerts": api.List[api.Alert]{Data: []api.Alert{
			{ID: "alert_01jd0000000000000000000001", Message: "execution seconds at 94 % of the monthly quota", CreatedAt: at},
			{ID: "alert_01jd0000000000000000000002", Message: "old", CreatedAt: at, AckedAt: &at}}},
	})
	e.GoldenWidths(t, "status", "status")
	st := clitest.JSON[map[string]json.RawMessage](t, e.Run("status", "-o", "json").Want(t, 0))
	if len(st) != 3 || st["quota"] == nil || !strings.Contains(string(st["open_alerts"]), "alert_01jd0000000000000000000001") || strings.Contains(string(st["open_alerts"]), "000002") {
		t.Fatalf("json: %v", st)
	}
	if r := e.Run("status", "--jq", ".quota.queued").Want(t, 0); r.Stdout != "1250\n" {
		t.Fatalf("--jq: %q", r.Stdout)
	}
}

// TestDoctorWidths: on a terminal 80 or 120 columns wide each message and
// fix wraps at spaces under its start (golden), a path staying whole;
// piped, each is one line.
func TestDoctorWidths(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, nil)
	env := map[string]string{config.EnvServer: "http://127.0.0.1:1", config.EnvAPIKey: "bk_x"}
	dir := strings.TrimSuffix(e.ConfigPath, "/config/baton/config.yaml")
	for _, w := range []int{80, 120} {
		r := e.Exec(clitest.Invocation{Args: []string{"doctor"}, TTY: true, Width: w, Env: env}).Want(t, 1)
		for _, l := range strings.Split(r.Stdout, "\n") {
			if n := utf8.RuneCountInString(l); n > w && strings.Contains(strings.TrimSpace(l), " ") {
				t.Errorf("%d columns: a line of %d that could wrap: %q", w, n, l)
			}
		}
		if !strings.Contains(r.Stdout, e.ConfigPath) {
			t.Errorf("%d columns: the config path is split:\n%s", w, r.Stdout)
		}
		clitest.Golden(t, fmt.Sprintf("doctor_%d", w), clitest.NormalizePath(r.Stdout, dir))
	}
	piped := e.Exec(clitest.Invocation{Args: []string{"doctor"}, Env: env}).Want(t, 1)
	if n := strings.Count(piped.Stdout, "\n"); n != 6 {
		t.Errorf("piped: %d lines, want 4 checks and 2 fixes:\n%s", n, piped.Stdout)
	}
}
