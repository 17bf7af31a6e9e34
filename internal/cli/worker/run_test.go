package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/worker"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/pkg/api"
)

func factory(env map[string]string) *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	return cmdutil.New(ios, func(k string) string { return env[k] })
}

func parse(ctx context.Context, cmd *cobra.Command, args ...string) error {
	if args == nil {
		args = []string{}
	}
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	_, err := cmd.ExecuteContextC(ctx)
	return err
}

func TestRunFlags(t *testing.T) {
	f := factory(nil)
	var got *worker.RunOptions
	run := func(_ context.Context, o *worker.RunOptions) error { got = o; return nil }
	ctx := context.Background()

	if err := parse(ctx, worker.NewCmdRun(f, run), "--", "python3", "agent.py", "--model", "x"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Command, []string{"python3", "agent.py", "--model", "x"}) || !slices.Equal(got.Queues, []string{"default"}) ||
		got.Concurrency != 1 || got.Heartbeat != 0 || got.KillGrace != 10*time.Second || got.DrainTimeout != 30*time.Second || got.AgentLogs {
		t.Fatalf("defaults = %+v", got)
	}

	err := parse(ctx, worker.NewCmdRun(f, run), "--queue", "a", "--queue", "b,a", "--concurrency", "4", "--heartbeat", "2s",
		"--kill-grace", "1s", "--drain-timeout", "1m", "--worker-id", "w1", "--agent-logs", "--", "sh", "-c", "cat")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Queues, []string{"a", "b"}) || got.Concurrency != 4 || got.Heartbeat != 2*time.Second ||
		got.KillGrace != time.Second || got.DrainTimeout != time.Minute || got.WorkerID != "w1" || !got.AgentLogs ||
		!slices.Equal(got.Command, []string{"sh", "-c", "cat"}) {
		t.Fatalf("options = %+v", got)
	}

	for name, args := range map[string][]string{
		"no command":        {},
		"nothing after --":  {"--"},
		"no dash":           {"python3", "agent.py"},
		"args before dash":  {"x", "--", "python3"},
		"concurrency 0":     {"--concurrency", "0", "--", "a"},
		"concurrency 101":   {"--concurrency", "101", "--", "a"},
		"negative hb":       {"--heartbeat", "-1s", "--", "a"},
		"zero grace":        {"--kill-grace", "0s", "--", "a"},
		"zero drain":        {"--drain-timeout", "0", "--", "a"},
		"bad duration":      {"--kill-grace", "soon", "--", "a"},
		"empty queue":       {"--queue", "", "--", "a"},
		"unknown flag":      {"--nope", "--", "a"},
		"long worker id":    {"--worker-id", strings.Repeat("w", 129), "--", "a"},
		"bad concurrency":   {"--concurrency", "many", "--", "a"},
		"empty command arg": {"--", ""},
	} {
		t.Run(name, func(t *testing.T) {
			got = nil
			err := parse(ctx, worker.NewCmdRun(f, run), args...)
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v (%T), want a FlagError", err, err)
			}
			if got != nil {
				t.Fatal("ran")
			}
		})
	}
}

func TestRunNeedsKeyAndCommand(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "config"), "BATON_SERVER": "http://127.0.0.1:1"}
	f := factory(env)
	if err := parse(context.Background(), worker.NewCmdRun(f, nil), "--", "sh"); !errors.Is(err, cmdutil.ErrNotLoggedIn) {
		t.Fatalf("without a key: %v", err)
	}
	env["BATON_API_KEY"] = "bk_test"
	var fe *cmdutil.FlagError
	if err := parse(context.Background(), worker.NewCmdRun(f, nil), "--", "/nonexistent/agent"); !errors.As(err, &fe) {
		t.Fatalf("missing agent: %v", err)
	}
}

// recorded is one request the test server saw.
type recorded struct {
	Path, Workspace, Auth string
	Body                  json.RawMessage
}

// TestRunOverHTTP runs `baton worker run` against a server that serves one
// task, and checks what went over the wire; cancelling the context (what
// SIGINT does) ends the command with no error.
func TestRunOverHTTP(t *testing.T) {
	var mu sync.Mutex
	var reqs []recorded
	served := false
	completed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, recorded{r.URL.Path, r.Header.Get(api.HeaderWorkspace), r.Header.Get("Authorization"), body})
		first := !served
		served = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/tasks/claim":
			if !first {
				<-r.Context().Done() // long poll with no more tasks
				return
			}
			_ = json.NewEncoder(w).Encode(api.ClaimResponse{HeartbeatIntervalSeconds: 5, Tasks: []api.Task{{
				ID: "task_1", WorkspaceID: "ws_1", Queue: "q", Attempt: 1, Input: json.RawMessage(`{"n":1}`)}}})
		case "/v1/tasks/task_1/heartbeat":
			_ = json.NewEncoder(w).Encode(api.HeartbeatResponse{})
		case "/v1/tasks/task_1/logs":
			w.WriteHeader(http.StatusNoContent)
		case "/v1/tasks/task_1/complete":
			_ = json.NewEncoder(w).Encode(api.Task{ID: "task_1", Status: api.TaskSucceeded})
			close(completed)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()

	home := t.TempDir()
	f := factory(map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "config"),
		"BATON_SERVER": srv.URL, "BATON_API_KEY": "bk_test"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		cmd := worker.NewCmdWorker(f)
		errc <- parse(ctx, cmd, "run", "--queue", "q", "--heartbeat", "20ms", "--", "sh", "-c",
			`cat; echo "::baton usage tokens=7 cost_usd=0.5" >&2; echo hello >&2; sleep 0.1`)
	}()
	select {
	case <-completed:
	case err := <-errc:
		t.Fatalf("worker ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no completion")
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("worker run = %v, want nil after a drain", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop")
	}

	mu.Lock()
	defer mu.Unlock()
	seen := map[string]recorded{}
	for _, r := range reqs {
		if r.Auth != "Bearer bk_test" {
			t.Errorf("%s: Authorization %q", r.Path, r.Auth)
		}
		if r.Path != "/v1/tasks/claim" && r.Workspace != "ws_1" {
			t.Errorf("%s: Baton-Workspace %q", r.Path, r.Workspace)
		}
		seen[r.Path] = r
	}
	var claim api.ClaimRequest
	_ = json.Unmarshal(seen["/v1/tasks/claim"].Body, &claim)
	if !slices.Equal(claim.Queues, []string{"q"}) || claim.WorkerID == "" || claim.MaxTasks != 1 || claim.WaitSeconds != 20 {
		t.Errorf("claim = %+v", claim)
	}
	var done api.CompleteRequest
	_ = json.Unmarshal(seen["/v1/tasks/task_1/complete"].Body, &done)
	if done.Attempt != 1 || string(done.Output) != `{"n":1}` || done.Usage == nil || *done.Usage != (api.UsageReport{Tokens: 7, CostMicros: 500000}) {
		t.Errorf("complete = %s", seen["/v1/tasks/task_1/complete"].Body)
	}
	var logs api.LogsRequest
	_ = json.Unmarshal(seen["/v1/tasks/task_1/logs"].Body, &logs)
	if !slices.Equal(logs.Lines, []string{"hello"}) {
		t.Errorf("logs = %s", seen["/v1/tasks/task_1/logs"].Body)
	}
	if _, ok := seen["/v1/tasks/task_1/heartbeat"]; !ok {
		t.Error("no heartbeat")
	}
}

func TestRunAgentIsolationFlags(t *testing.T) {
	f := factory(nil)
	var got *worker.RunOptions
	run := func(_ context.Context, o *worker.RunOptions) error { got = o; return nil }
	if err := parse(context.Background(), worker.NewCmdRun(f, run), "--inherit-home", "--run-as", "nobody", "--", "sh"); err != nil {
		t.Fatal(err)
	}
	if !got.InheritHome || got.RunAs != "nobody" {
		t.Fatalf("options = %+v", got)
	}
	if err := parse(context.Background(), worker.NewCmdRun(f, run), "--", "sh"); err != nil || got.InheritHome || got.RunAs != "" {
		t.Fatalf("defaults = %+v, %v", got, err)
	}
}

// --run-as names a known, unprivileged user, and needs a root worker.
func TestRunAsRefusesWhatCannotWork(t *testing.T) {
	home := t.TempDir()
	f := factory(map[string]string{"HOME": home, "XDG_CONFIG_HOME": filepath.Join(home, "config"), "BATON_SERVER": "http://127.0.0.1:1", "BATON_API_KEY": "bk_test"})
	users := []string{"no-such-user-baton", "root", "0"}
	if os.Geteuid() != 0 {
		users = []string{"nobody"}
	}
	for _, u := range users {
		var fe *cmdutil.FlagError
		if err := parse(context.Background(), worker.NewCmdRun(f, nil), "--run-as", u, "--", "sh"); !errors.As(err, &fe) {
			t.Errorf("--run-as %s: %v, want a FlagError", u, err)
		}
	}
}

// A key on the command line is visible to every user: the worker warns.
func TestRunWarnsAboutAPIKeyFlag(t *testing.T) {
	ios, _, _, stderr := iostreams.Test()
	f := cmdutil.New(ios, func(string) string { return "" })
	f.Globals.APIKey = "bk_test"
	_ = parse(context.Background(), worker.NewCmdRun(f, nil), "--", "/nonexistent/agent")
	if !strings.Contains(stderr.String(), "--api-key puts the key on the command line") {
		t.Fatalf("stderr = %q", stderr.String())
	}
}
