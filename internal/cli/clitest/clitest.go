// Package clitest runs baton command lines in tests: against a real
// in-process server over a temporary SQLite store (NewServer), or against a
// stub serving fixed responses (NewStub), each with its own temporary config
// directory. It also compares output with golden files (Golden, -update)
// and normalises ids, secrets and times (Normalize).
//
// Only _test packages may import it: it imports internal/cli, which imports
// every command package.
package clitest

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/cli"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/internal/server"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/config"
)

// runTimeout bounds one command line.
const runTimeout = 30 * time.Second

// Env is a server (real or stub) with a CLI environment pointing at it.
type Env struct {
	t testing.TB
	// URL is the server's base URL.
	URL string
	// Key is the operator key (bak_…) of a real server; a fake for a stub.
	Key string
	// ConfigPath is the CLI config file of this Env.
	ConfigPath string
	// Store is the real server's store (nil for a stub).
	Store store.Store

	env  map[string]string
	http *http.Client
	log  *testutil.SyncBuffer // a real server's log lines (text handler)
}

// ServerLog returns what a real server has logged so far, one slog text
// line per record at every level ("" for a stub).
func (e *Env) ServerLog() string {
	if e.log == nil {
		return ""
	}
	return e.log.String()
}

// NewServer starts a real baton server over a temporary SQLite store, with
// the default tiers and a first operator key (Env.Key).
func NewServer(t *testing.T) *Env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "baton.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	secret := []byte("clitest-secret-0123456789abcdef0123")
	log := &testutil.SyncBuffer{}
	srv, err := server.New(server.Config{Store: st, Secret: secret, Tiers: config.DefaultTiers(),
		DefaultTier: config.DefaultTierName, Logger: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := app.Init(ctx, st, secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, srv)
	e.Key, e.Store, e.log = key, st, log
	return e
}

// newEnv serves h and prepares a CLI environment: HOME and XDG_CONFIG_HOME
// in a temporary directory, BATON_SERVER set to the server.
func newEnv(t testing.TB, h http.Handler) *Env {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	home := t.TempDir()
	e := &Env{t: t, URL: hs.URL, http: hs.Client(), env: map[string]string{
		"HOME":            home,
		"XDG_CONFIG_HOME": filepath.Join(home, "config"),
		config.EnvServer:  hs.URL,
	}}
	e.ConfigPath = filepath.Join(home, "config", "baton", "config.yaml")
	return e
}

// Invocation is one command line and its surroundings.
type Invocation struct {
	Args []string
	// Stdin feeds standard input.
	Stdin string
	// TTY makes standard input, output and error terminals (80 columns
	// wide unless Width is set; no colour).
	TTY   bool
	Width int
	// Env is laid over the Env's environment; an empty value unsets.
	Env map[string]string
	// Now, when set, is the command's clock (Factory.Now).
	Now func() time.Time
}

// Result is what a command line did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs args with the operator key (BATON_API_KEY).
func (e *Env) Run(args ...string) Result { return e.RunAs(e.Key, args...) }

// RunAs runs args with key as BATON_API_KEY ("" runs without one, so the
// config file's key applies).
func (e *Env) RunAs(key string, args ...string) Result {
	return e.Exec(Invocation{Args: args, Env: map[string]string{config.EnvAPIKey: key}})
}

// Exec runs one invocation through cli.Run with a fresh Factory.
func (e *Env) Exec(inv Invocation) Result {
	e.t.Helper()
	return e.ExecContext(context.Background(), inv)
}

// ExecContext is Exec under ctx: cancelling ctx is what Ctrl-C does to a
// command (a worker drains). Safe to call from another goroutine.
func (e *Env) ExecContext(parent context.Context, inv Invocation) Result {
	e.t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(inv.Stdin)
	if inv.TTY {
		ios.SetStdinTTY(true)
		ios.SetStdoutTTY(true)
		ios.SetStderrTTY(true)
	}
	if inv.Width > 0 {
		ios.SetTerminalWidth(inv.Width)
	}
	ios.SetColorEnabled(false)
	env := maps.Clone(e.env)
	maps.Copy(env, inv.Env)
	f := cmdutil.New(ios, func(k string) string { return env[k] })
	f.HTTPClient = e.http
	if inv.Now != nil {
		f.Now = inv.Now
	}
	ctx, cancel := context.WithTimeout(parent, runTimeout)
	defer cancel()
	code := cli.Run(ctx, f, inv.Args)
	if ctx.Err() != nil && parent.Err() == nil {
		// A command that ran into the harness's bound did not end by
		// itself: whatever code it returned says nothing of the CLI.
		e.t.Errorf("baton %s ran into the test harness's %s bound (exit %d)", strings.Join(inv.Args, " "), runTimeout, code)
	}
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// Config reads the Env's CLI config file.
func (e *Env) Config() *config.File {
	e.t.Helper()
	f, err := config.Load(e.ConfigPath)
	if err != nil {
		e.t.Fatal(err)
	}
	return f
}

// Want fails the test unless r exited with code; it shows the output.
func (r Result) Want(t *testing.T, code int) Result {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, code, r.Stdout, r.Stderr)
	}
	return r
}

// At returns now+d, in UTC and whole seconds: stub data whose relative
// times ("3 days ago") stay the same however long the test takes, as long
// as d is not close to a unit boundary.
func At(d time.Duration) time.Time { return time.Now().Add(d).UTC().Truncate(time.Second) }

// TTY runs args on a terminal 120 columns wide with the Env's key.
func (e *Env) TTY(args ...string) Result { return e.TTYWidth(120, args...) }

// TTYWidth runs args on a terminal width columns wide with the Env's key
// (wide tables).
func (e *Env) TTYWidth(width int, args ...string) Result {
	return e.Exec(Invocation{Args: args, TTY: true, Width: width, Env: map[string]string{config.EnvAPIKey: e.Key}})
}
