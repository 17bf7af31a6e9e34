package devcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// TestDevDemoAgentWalkthrough is the README's and docs/steps.md's
// walkthrough with the real binary: `baton dev` on a temp dir, a task on
// queue demo-steps, `baton tasks steps` (fetch and draft done, the approval
// waiting and holding no worker), `baton tasks signal … approve`, and the
// task finishes published, each step having run once.
func TestDevDemoAgentWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the baton binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "baton")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/genericcorp/baton/cmd/baton").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	profiles := filepath.Join(dir, "profiles.yaml")
	env := []string{"BATON_CONFIG=" + profiles, "HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "NO_COLOR=1"}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "BATON_") && k != "HOME" && !strings.HasPrefix(k, "XDG_") {
			env = append(env, kv)
		}
	}

	dev := exec.Command(bin, "dev", "--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	dev.Env = env
	devOut := &testutil.SyncBuffer{}
	dev.Stdout, dev.Stderr = devOut, devOut
	dev.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- dev.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-dev.Process.Pid, syscall.SIGKILL) // the group: agents too
		select {
		case <-exited:
		default:
		}
		if t.Failed() {
			t.Logf("baton dev's output:\n%s", devOut.String())
		}
	})

	// The profile is written once the server is up and provisioned.
	var prof config.Profile
	testutil.Eventually(t, 60*time.Second, "baton dev writes its profile", func() bool {
		file, err := config.Load(profiles)
		prof = file.Profiles[ProfileDev]
		return err == nil && prof.APIKey != ""
	})
	ios, _, _, _ := iostreams.Test()
	c, err := cmdutil.New(ios, func(string) string { return "" }).ClientFor(prof.Server, prof.APIKey, "")
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("baton %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return string(out)
	}
	ctx := context.Background()
	task := func(id string) api.Task {
		t.Helper()
		tk, err := c.GetTask(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}

	id := strings.TrimSpace(cli("tasks", "submit", "--queue", DemoQueue, "--input", `{"topic":"x"}`, "-q"))
	testutil.Eventually(t, 60*time.Second, "the demo task waits for its approval", func() bool {
		return task(id).Status == api.TaskWaiting
	})
	// It holds no worker: no lease, no attempt running.
	tk := task(id)
	if tk.StatusReason != "signal: "+DemoSignal || tk.LeaseExpiresAt != nil {
		t.Fatalf("waiting task: reason %q, lease %v; want signal: %s and no lease", tk.StatusReason, tk.LeaseExpiresAt, DemoSignal)
	}
	for _, a := range tk.Attempts {
		if a.Status == "running" {
			t.Fatalf("the waiting task has a running attempt: %+v", tk.Attempts)
		}
	}
	table := cli("tasks", "steps", id)
	for _, want := range []string{"fetch", "draft", "approval", "signal approve"} {
		if !strings.Contains(table, want) {
			t.Errorf("baton tasks steps lacks %q:\n%s", want, table)
		}
	}
	var steps []api.Step
	if err := json.Unmarshal([]byte(cli("tasks", "steps", id, "-o", "json")), &steps); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		key, kind, status string
		tokens            int64
	}{{"fetch", api.StepRun, api.StepSucceeded, 300}, {"draft", api.StepRun, api.StepSucceeded, 1200}, {"approval", api.StepWait, api.StepWaiting, 0}}
	if len(steps) != len(want) {
		t.Fatalf("journal before the approval: %+v, want fetch, draft, approval", steps)
	}
	for i, w := range want {
		if s := steps[i]; s.Key != w.key || s.Kind != w.kind || s.Status != w.status || s.Usage.Tokens != w.tokens {
			t.Errorf("step %d: %s %s %s %d tokens, want %+v", i, s.Key, s.Kind, s.Status, s.Usage.Tokens, w)
		}
	}

	cli("tasks", "signal", id, DemoSignal, "--data", `{"ok":true}`)
	var done api.Task
	if err := json.Unmarshal([]byte(cli("tasks", "wait", id, "--wait-timeout", "60s", "-q", "-o", "json")), &done); err != nil {
		t.Fatal(err)
	}
	var out demoOutput
	if err := json.Unmarshal(done.Output, &out); err != nil {
		t.Fatalf("output %s: %v", done.Output, err)
	}
	var approval struct{ OK bool }
	_ = json.Unmarshal(out.Approval, &approval)
	if done.Status != api.TaskSucceeded || !out.Published || out.URL != "https://example.com/posts/x" || !approval.OK || len(out.Sources) != 2 {
		t.Fatalf("finished task: %s, output %s", done.Status, done.Output)
	}
	// Each step ran once (the second attempt replayed fetch and draft):
	// the usage is the three steps' reports.
	if done.Attempt < 2 || done.Usage.Tokens != 300+1200+100 || done.Usage.CostMicros != 800+3100+200 {
		t.Fatalf("finished task: attempt %d, usage %+v; want ≥ 2 attempts, 1600 tokens, 4100 µ$", done.Attempt, done.Usage)
	}
	steps, err = c.ListSteps(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if s.Status != api.StepSucceeded || (s.Kind == api.StepRun && s.Attempts != 1) {
			t.Errorf("step %s: %s, ran %d times; want succeeded, run steps once", s.Key, s.Status, s.Attempts)
		}
	}
	if len(steps) != 4 || steps[3].Key != "publish" {
		t.Errorf("journal: %+v, want fetch, draft, approval, publish", steps)
	}
	// The draft's and the publish step's emitted lines are stream events
	// on their channels (the draft's too: the supervisor sends it before
	// the approval's call suspends the attempt).
	events, err := c.ListTaskEvents(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	var emitted []string
	for _, e := range events {
		if e.Type == api.EventStream {
			emitted = append(emitted, e.Channel+": "+e.Message)
		}
	}
	if want := []string{"draft: A short piece on x from 2 sources.", "publish: published https://example.com/posts/x"}; !slices.Equal(emitted, want) {
		t.Errorf("stream events %q, want %q; events: %+v", emitted, want, events)
	}

	// Ctrl-C stops dev and its workers cleanly.
	if err := dev.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("baton dev exit: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("baton dev did not stop on SIGINT")
	}
}
