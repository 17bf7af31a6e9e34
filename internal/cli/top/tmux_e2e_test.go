package top_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// eventually polls cond every 50 ms until it holds, failing after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool, show func() string) {
	t.Helper()
	tick, deadline := time.NewTicker(50*time.Millisecond), time.After(d)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s; last screen:\n%s", d, what, show())
		}
	}
}

// start runs a process in its own group and kills the group at cleanup.
func start(t *testing.T, name string, env []string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		if t.Failed() {
			t.Logf("--- %s output:\n%s", name, out.String())
		}
	})
}

var queuedRe = regexp.MustCompile(`queued\s+[█░]+\s+([\d,]+) / `)
var execRe = regexp.MustCompile(`executions\s+[█░]+\s+([\d,]+) / `)

// gauge reads the used amount of a gauge from a captured screen ("" if
// it is not drawn yet).
func gauge(re *regexp.Regexp, screen string) string {
	if m := re.FindStringSubmatch(screen); m != nil {
		return m[1]
	}
	return ""
}

// TestTopInTmux runs `baton top` in a detached tmux session against a real
// server on SQLite, submits tasks, lets a worker run them, and watches the
// gauges change in the captured pane.
func TestTopInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "baton")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/genericcorp/baton/cmd/baton").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	server := "http://" + addr
	env := []string{"BATON_DATA_DIR=" + filepath.Join(dir, "data"), "BATON_SECRET=top-e2e-secret-0123456789abcdef012345",
		"BATON_LOG_FORMAT=text", "BATON_LEASE=2s", "BATON_HEARTBEAT_INTERVAL=500ms",
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "BATON_PROFILE=", "BATON_WORKSPACE=", "NO_COLOR="}

	init := exec.Command(bin, "server", "init")
	init.Env = append(os.Environ(), env...)
	out, err := init.Output()
	if err != nil {
		t.Fatalf("server init: %v", err)
	}
	adminKey := strings.TrimSpace(string(out))
	start(t, "server", append(env, "BATON_LISTEN="+addr), bin, "server")
	eventually(t, 30*time.Second, "the server", func() bool {
		res, err := http.Get(server + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}, func() string { return "" })

	ctx := context.Background()
	admin, err := client.New(server, client.WithAPIKey(adminKey))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "e2e-top", Tier: "free"})
	if err != nil {
		t.Fatal(err)
	}
	key := ws.Key.Secret
	tenant, err := client.New(server, client.WithAPIKey(key))
	if err != nil {
		t.Fatal(err)
	}
	// The server serves GET /v1/usage/quota: a 404 here is a failure, not
	// a reason to skip.
	if _, err := tenant.Quota(ctx); err != nil {
		t.Fatalf("GET /v1/usage/quota: %v", err)
	}

	// `baton top` from the real binary: the root command registers it.
	topCmd := []string{bin, "top"}
	topEnv := []string{"BATON_SERVER=" + server, "BATON_API_KEY=" + key}

	socket := fmt.Sprintf("baton-top-e2e-%d-%d", os.Getpid(), time.Now().UnixNano())
	tm := func(args ...string) (string, error) {
		c := exec.Command(tmux, append([]string{"-L", socket, "-f", "/dev/null"}, args...)...)
		c.Env = append(append(os.Environ(), env...), topEnv...)
		b, err := c.CombinedOutput()
		return string(b), err
	}
	newSession := []string{"new-session", "-d", "-s", "top", "-x", "100", "-y", "30"}
	for _, e := range append(env, topEnv...) {
		newSession = append(newSession, "-e", e)
	}
	if out, err := tm(append(newSession, topCmd...)...); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = tm("kill-server") })
	screen := func() string {
		s, _ := tm("capture-pane", "-p", "-t", "top")
		return s
	}

	eventually(t, 30*time.Second, "the first snapshot", func() bool {
		s := screen()
		return gauge(queuedRe, s) == "0" && gauge(execRe, s) == "0" && strings.Contains(s, "e2e-top")
	}, screen)
	if s := screen(); !strings.Contains(s, "● live") && !strings.Contains(s, "● polling") {
		t.Errorf("no connection state in the header:\n%s", s)
	}

	// Three tasks queue up: the queued gauge moves.
	for i := range 3 {
		in := json.RawMessage(fmt.Sprintf(`{"n": %d}`, i))
		if _, err := tenant.SubmitTask(ctx, api.SubmitTaskRequest{Input: in}, fmt.Sprintf("top-e2e-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "queued 3", func() bool { return gauge(queuedRe, screen()) == "3" }, screen)

	// A worker runs them: executions 3, nothing queued.
	start(t, "worker", append(env, topEnv[:2]...), bin, "worker", "run", "--concurrency", "2", "--worker-id", "w1",
		"--", "sh", "-c", "cat >/dev/null; echo 'hello from the e2e agent' >&2; echo '{\"ok\": true}'")
	eventually(t, 60*time.Second, "executions 3", func() bool {
		s := screen()
		return gauge(execRe, s) == "3" && gauge(queuedRe, s) == "0"
	}, screen)
	eventually(t, 30*time.Second, "the finished tasks in the tasks pane", func() bool {
		return strings.Count(screen(), "succeeded") == 3
	}, screen)
	t.Logf("screen:\n%s", screen())

	// tab to the tasks pane, l follows the first task's logs (it has
	// ended: the pane says so), esc goes back.
	for _, k := range []string{"Tab", "l"} {
		if out, err := tm("send-keys", "-t", "top", k); err != nil {
			t.Fatalf("send-keys %s: %v\n%s", k, err, out)
		}
	}
	eventually(t, 30*time.Second, "the log pane", func() bool {
		s := screen()
		return strings.Contains(s, "▸ Logs task_") && strings.Contains(s, "hello from the e2e agent") && strings.Contains(s, "ended: succeeded")
	}, screen)
	t.Logf("log pane:\n%s", screen())
	if out, err := tm("send-keys", "-t", "top", "Escape"); err != nil {
		t.Fatalf("send-keys: %v\n%s", err, out)
	}
	eventually(t, 10*time.Second, "back from the log pane", func() bool {
		s := screen()
		return !strings.Contains(s, "▸ Logs task_") && strings.Contains(s, "Waiting · 0")
	}, screen)

	// q quits: the session ends.
	if out, err := tm("send-keys", "-t", "top", "q"); err != nil {
		t.Fatalf("send-keys: %v\n%s", err, out)
	}
	eventually(t, 10*time.Second, "top to quit", func() bool {
		_, err := tm("has-session", "-t", "top")
		return err != nil
	}, screen)
}
