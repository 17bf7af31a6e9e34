//go:build linux

package supervisor

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

const helperEnv = "BATON_SUPERVISOR_TEST_HELPER"

// The secret a helper worker holds; the agent tries to steal it.
const stolenKey = "bak_supersecretkeythatagentsmustnotread"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode == stepAgentMode {
		os.Exit(stepAgent())
	} else if mode != "" {
		os.Exit(helperWorker(mode))
	}
	os.Exit(m.Run())
}

// thief is an agent that tries what a process of the worker's user can do
// to read the worker's key, and prints what worked.
const thief = `got=""
tr '\0' '\n' < /proc/$PPID/environ 2>/dev/null | grep -q ` + stolenKey + ` && got="$got environ"
grep -rqs ` + stolenKey + ` "$HOME" "${XDG_CONFIG_HOME:-$HOME/.config}" && got="$got config"
echo "stolen:$got"`

// helperWorker runs a worker over a fake server with one task, whose agent
// is the thief, and prints the agent's output.
func helperWorker(mode string) int {
	f := newFake()
	cfg := baseConfig(f, &testutil.SyncBuffer{}, thief)
	cfg.Env = os.Environ()
	cfg.unprotected = mode == "unprotected"
	cfg.InheritHome = mode == "unprotected"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	f.push(api.Task{ID: "task_1"})
	// A subprocess without a *testing.T: poll with a deadline.
	tick, deadline := time.NewTicker(5*time.Millisecond), time.After(20*time.Second)
	defer tick.Stop()
	for f.finished() == 0 {
		select {
		case <-tick.C:
			continue
		case <-deadline:
		}
		break
	}
	cancel()
	<-done
	_, _, _, completes, fails := f.snapshot()
	if len(completes) != 1 {
		fmt.Println("no completion:", fails)
		return 1
	}
	fmt.Println(string(completes[0].Complete.Output))
	return 0
}

// An agent of the worker's own user cannot read the worker's key from
// /proc/$PPID/environ (the worker is not dumpable) nor from the worker's
// config file where tools look for it (the agent has a home of its own).
// The control run, without the protections, proves the thief works. As
// root the test runs the worker as nobody, since root reads any process.
func TestAgentCannotReadTheWorkersKey(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "baton-protect-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "supervisor.test")
	home := filepath.Join(dir, "home")
	copyFile(t, exe, bin)
	must(t, os.MkdirAll(filepath.Join(home, ".config", "baton"), 0o700))
	must(t, os.WriteFile(filepath.Join(home, ".config", "baton", "config.yaml"), []byte("api_key: "+stolenKey+"\n"), 0o600))
	var cred *syscall.Credential
	if os.Getuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		must(t, os.Chmod(dir, 0o755))
		for _, p := range []string{home, filepath.Join(home, ".config"), filepath.Join(home, ".config", "baton"), filepath.Join(home, ".config", "baton", "config.yaml")} {
			must(t, os.Chown(p, 65534, 65534))
		}
	}
	run := func(mode string) string {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Dir = dir
		cmd.Env = []string{helperEnv + "=" + mode, "BATON_API_KEY=" + stolenKey, "HOME=" + home, "PATH=" + os.Getenv("PATH")}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s helper: %v\n%s", mode, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("unprotected"); got != `"stolen: environ config"` {
		t.Fatalf("control: the thief should read the key without the protections, got %s", got)
	}
	if got := run("protected"); got != `"stolen:"` {
		t.Fatalf("the agent read the worker's key: %s", got)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	must(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	must(t, err)
	_, err = io.Copy(out, in)
	must(t, err)
	must(t, out.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// AgentUser runs the agent as that user, with a home it owns; the worker's
// environment and memory are then another user's, closed to the agent.
func TestAgentUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("starting a process as another user needs root")
	}
	f := newFake()
	start(t, f, `printf '"%s %s %s"' "$(id -u)" "$(stat -c %u "$HOME")" "$(cat /proc/$PPID/environ >/dev/null 2>&1 && echo read || echo denied)"`,
		func(c *Config) { c.AgentUser = &AgentUser{Name: "nobody", UID: 65534, GID: 65534} })
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	_, _, _, completes, fails := f.snapshot()
	if len(completes) != 1 || string(completes[0].Complete.Output) != `"65534 65534 denied"` {
		t.Fatalf("completes %+v, fails %+v", completes, fails)
	}
}
