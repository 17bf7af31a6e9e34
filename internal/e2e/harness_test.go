// Package e2e runs baton as real processes — server, worker, CLI — and
// kills them: crash recovery, zombie workers, replicas. Everything talks
// only to 127.0.0.1 and every wait is bounded.
package e2e_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// baton builds the binary once per test run.
func baton(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process-level test")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "baton-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "baton")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/genericcorp/baton/cmd/baton").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// proc is a running baton process.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
}

func start(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("--- %s output (last 3000 bytes):\n%s", name, tail(out.String(), 3000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// signal sends sig to the process group (the worker's agents too).
func (p *proc) signal(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// kill9 kills the process group and waits for it.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	p.signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die", p.name)
	}
}

// cluster is a store and the environment every server process shares.
type cluster struct {
	t       *testing.T
	bin     string
	dataDir string
	env     []string
	admin   string
}

// newCluster prepares a store: SQLite in a data dir, or (pgURL set) a fresh
// PostgreSQL schema, and runs `baton server init`.
func newCluster(t *testing.T, pgURL string) *cluster {
	bin := baton(t)
	c := &cluster{t: t, bin: bin, dataDir: t.TempDir()}
	c.env = []string{"BATON_DATA_DIR=" + c.dataDir, "BATON_LEASE=2s", "BATON_HEARTBEAT_INTERVAL=500ms",
		"BATON_SECRET=e2e-secret-0123456789abcdef0123456789abcdef", "BATON_LOG_FORMAT=text",
		"XDG_CONFIG_HOME=" + t.TempDir(), "BATON_API_KEY=", "BATON_PROFILE="}
	if pgURL != "" {
		// A schema of the test's own, reached as a role that row-level
		// security binds (testutil.PostgresSchema).
		c.env = append(c.env, "BATON_DATABASE_URL="+testutil.PostgresSchema(t))
	}
	out, err := c.command("server", "init").Output()
	if err != nil {
		t.Fatalf("server init: %v", err)
	}
	c.admin = strings.TrimSpace(string(out))
	return c
}

func (c *cluster) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), c.env...)
	return cmd
}

// server starts `baton server` on addr and waits until it is ready.
func (c *cluster) server(name, addr string) *proc {
	c.t.Helper()
	p := start(c.t, name, append(c.env, "BATON_LISTEN="+addr), c.bin, "server")
	testutil.Eventually(c.t, 30*time.Second, name+" ready", func() bool {
		res, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == 200
	})
	return p
}

// worker starts `baton worker run` against addr with key, running agent;
// flags are extra worker flags.
func (c *cluster) worker(name, addr, key string, concurrency int, agent string, flags ...string) *proc {
	c.t.Helper()
	env := append(c.env, "BATON_SERVER=http://"+addr, "BATON_API_KEY="+key)
	args := append([]string{"worker", "run", "--concurrency", fmt.Sprint(concurrency),
		"--worker-id", name, "--kill-grace", "1s", "--drain-timeout", "2s"}, flags...)
	return start(c.t, name, env, c.bin, append(args, "--", "sh", "-c", agent)...)
}

// tenant creates a workspace on the team tier and returns a client with its key.
func (c *cluster) tenant(addr, name string) (*client.Client, string) {
	c.t.Helper()
	return c.tenantWith(addr, name, "team", nil)
}

// tenantWith creates a workspace on tier with limits overriding the tier's
// and returns a client with its key.
func (c *cluster) tenantWith(addr, name, tier string, limits map[string]int64) (*client.Client, string) {
	c.t.Helper()
	admin, err := client.New("http://"+addr, client.WithAPIKey(c.admin))
	if err != nil {
		c.t.Fatal(err)
	}
	ctx := context.Background()
	out, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: name, Tier: tier})
	if err != nil {
		c.t.Fatal(err)
	}
	if len(limits) > 0 {
		overrides := map[string]*int64{}
		for k, v := range limits {
			overrides[k] = &v
		}
		if _, err := admin.UpdateWorkspace(ctx, out.Workspace.ID, api.UpdateWorkspaceRequest{Overrides: overrides}); err != nil {
			c.t.Fatal(err)
		}
	}
	cl, _ := client.New("http://"+addr, client.WithAPIKey(out.Key.Secret), client.WithRetry(20, 2*time.Second))
	return cl, out.Key.Secret
}

// statuses counts the workspace's tasks by status.
func statuses(t *testing.T, c *client.Client) map[string]int {
	t.Helper()
	n := map[string]int{}
	for task, err := range c.AllTasks(context.Background(), client.TaskListOptions{ListOptions: client.ListOptions{Limit: 100}}) {
		if err != nil {
			return map[string]int{"error": 1}
		}
		n[task.Status]++
	}
	return n
}
