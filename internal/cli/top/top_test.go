package top

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// factory is a Factory over test streams whose environment points at
// server (none: "").
func factory(t *testing.T, server string) (*cmdutil.Factory, *strings.Builder, *strings.Builder) {
	ios, _, _, _ := iostreams.Test()
	out, errOut := &strings.Builder{}, &strings.Builder{}
	ios.Out, ios.ErrOut = out, errOut
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir(), "BATON_SERVER": server, "BATON_API_KEY": "bk_test"}
	return cmdutil.New(ios, func(k string) string { return env[k] }), out, errOut
}

func TestTopFlags(t *testing.T) {
	for _, c := range []struct {
		name    string
		watch   bool
		args    []string
		output  string
		want    Options
		wantErr string
	}{
		{name: "defaults", want: Options{Interval: 2 * time.Second}},
		{name: "all", args: []string{"--all", "--interval", "500ms"}, want: Options{All: true, Interval: 500 * time.Millisecond}},
		{name: "jsonl", output: "jsonl", want: Options{Interval: 2 * time.Second}},
		{name: "yaml: one document", output: "yaml", want: Options{Interval: 2 * time.Second}},
		{name: "csv refused", output: "csv", wantErr: "-o csv is not supported"},
		{name: "interval too short", args: []string{"--interval", "1ms"}, wantErr: "--interval must be at least 100ms"},
		{name: "no arguments", args: []string{"extra"}, wantErr: "extra"},
		{name: "no count on top", args: []string{"--count", "1"}, wantErr: "unknown flag"},
		{name: "watch defaults", watch: true, want: Options{Interval: 2 * time.Second, Lines: true}},
		{name: "watch count", watch: true, args: []string{"--count", "3", "--all"}, want: Options{Count: 3, All: true, Interval: 2 * time.Second, Lines: true}},
		{name: "watch negative count", watch: true, args: []string{"--count", "-1"}, wantErr: "--count must not be negative"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, _, _ := factory(t, "")
			if c.output != "" {
				f.Globals.Output = c.output
			}
			var got *Options
			runF := func(_ context.Context, o *Options) error { got = o; return nil }
			cmd := newCmdTop(f, runF)
			if c.watch {
				cmd = newCmdWatch(f, runF)
			}
			cmd.SetArgs(c.args)
			cmd.SetOut(&strings.Builder{})
			cmd.SetErr(&strings.Builder{})
			err := cmd.Execute()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Factory = nil
			if *got != c.want {
				t.Fatalf("options %+v, want %+v", *got, c.want)
			}
		})
	}
	// Flag errors are usage errors (exit 2).
	f, _, _ := factory(t, "")
	cmd := newCmdTop(f, func(context.Context, *Options) error { return nil })
	cmd.SetArgs([]string{"--interval", "0s"})
	cmd.SetErr(&strings.Builder{})
	var fe *cmdutil.FlagError
	if err := cmd.Execute(); !errors.As(err, &fe) {
		t.Fatalf("err %T %v, want a FlagError", err, err)
	}
}

// stubServer serves GET /v1/usage/quota (a new snapshot each time) and
// no stream (404), like a server without SSE; it counts quota reads.
func stubServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var reads atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/usage/quota", func(w http.ResponseWriter, r *http.Request) {
		n := reads.Add(1)
		at := time.Date(2026, 11, 28, 22, 0, int(n), 0, time.UTC)
		q := api.Quota{WorkspaceID: "ws_1", Tier: "free", Period: "2026-11", At: at, Metrics: []api.QuotaMetric{
			{Name: api.QuotaTaskExecutions, Used: 800 + n, Limit: 1000, Percent: float64(800+n) / 10},
		}}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(q)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"/docs/errors#not_found","title":"Not found","status":404,"code":"not_found","detail":"no route"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &reads
}

func TestWatchLines(t *testing.T) {
	srv, _ := stubServer(t)
	for _, c := range []struct {
		output string
		check  func(t *testing.T, lines []string)
	}{
		{"table", func(t *testing.T, lines []string) {
			for i, l := range lines {
				if !strings.HasPrefix(l, "2026-11-28T22:00:0") || !strings.Contains(l, " ws_1 executions 80") || !strings.HasSuffix(l, "state=polling") {
					t.Errorf("line %d: %q", i, l)
				}
			}
		}},
		{"jsonl", func(t *testing.T, lines []string) {
			for i, l := range lines {
				var q api.Quota
				if err := json.Unmarshal([]byte(l), &q); err != nil || q.WorkspaceID != "ws_1" {
					t.Errorf("line %d: %v %q", i, err, l)
				}
			}
		}},
	} {
		t.Run(c.output, func(t *testing.T) {
			f, out, errOut := factory(t, srv.URL)
			f.Globals.Output = c.output
			cmd := NewCmdWatch(f)
			cmd.SetArgs([]string{"--count", "2", "--interval", "100ms"})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cmd.ExecuteContext(ctx); err != nil {
				t.Fatalf("%v\nstderr: %s", err, errOut)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("%d lines:\n%s", len(lines), out)
			}
			c.check(t, lines)
			if !strings.Contains(errOut.String(), "state=polling") {
				t.Errorf("stderr %q", errOut)
			}
		})
	}
}

// -o json prints exactly one document, the current snapshot, and exits,
// for top and watch alike.
func TestWatchOneDocument(t *testing.T) {
	srv, reads := stubServer(t)
	for _, newCmd := range []func(*cmdutil.Factory) *cobra.Command{NewCmdWatch, NewCmdTop} {
		f, out, errOut := factory(t, srv.URL)
		f.Globals.Output = "json"
		before := reads.Load()
		cmd := newCmd(f)
		cmd.SetArgs(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := cmd.ExecuteContext(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\nstderr: %s", cmd.Name(), err, errOut)
		}
		dec := json.NewDecoder(strings.NewReader(out.String()))
		var q api.Quota
		if err := dec.Decode(&q); err != nil || q.WorkspaceID != "ws_1" {
			t.Fatalf("%s: %v %q", cmd.Name(), err, out)
		}
		if dec.More() || reads.Load() != before+1 {
			t.Fatalf("%s: more than one document (%d reads): %q", cmd.Name(), reads.Load()-before, out)
		}
	}
}

// Without a terminal, top prints lines like usage watch.
func TestTopWithoutTTY(t *testing.T) {
	srv, reads := stubServer(t)
	f, out, _ := factory(t, srv.URL)
	cmd := NewCmdTop(f)
	cmd.SetArgs([]string{"--interval", "100ms"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	testutil.Eventually(t, 30*time.Second, "top polls", func() bool { return reads.Load() >= 3 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled (exit 130)", err)
	}
	if !strings.Contains(out.String(), " ws_1 executions 801/1000 80.1%") {
		t.Fatalf("out:\n%s", out)
	}
}

// With --all, --count counts polls of every workspace, not lines.
func TestWatchAllCountsPolls(t *testing.T) {
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/admin/usage" {
			http.NotFound(w, r)
			return
		}
		polls.Add(1)
		at := time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(api.List[api.Quota]{Data: []api.Quota{
			{WorkspaceID: "ws_1", At: at}, {WorkspaceID: "ws_2", At: at}, {WorkspaceID: "ws_3", At: at}}})
	}))
	t.Cleanup(srv.Close)
	f, out, errOut := factory(t, srv.URL)
	cmd := NewCmdWatch(f)
	cmd.SetArgs([]string{"--all", "--count", "2", "--interval", "100ms"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("%v\nstderr: %s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 6 || polls.Load() != 2 {
		t.Fatalf("%d polls, %d lines, want 2 polls of 3 workspaces:\n%s", polls.Load(), len(lines), out)
	}
}
