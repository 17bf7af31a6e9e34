// Package devcmd is `baton dev`: the whole product on one machine, one
// command, embedded SQLite.
package devcmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/supervisor"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// Profile names `baton dev` writes.
const (
	ProfileDev      = "dev"
	ProfileDevAdmin = "dev-admin"
	devWorkspace    = "dev"
)

// NewCmdDev returns `baton dev`.
func NewCmdDev(f *cmdutil.Factory) *cobra.Command {
	var dataDir, listen string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local baton on SQLite with a ready workspace and profile",
		Long: `Run the baton server on SQLite in a data dir, for development.

On every start it makes sure (idempotently) that there is an operator key, a
workspace named "dev" on the pro tier and a key for it, and it writes two CLI
profiles: "dev" (the workspace key) and "dev-admin" (the operator key). "dev"
becomes the current profile when none is set. The keys are kept in
DATA_DIR/dev-credentials.json (mode 0600) so restarts reuse them; when the
saved workspace key no longer works (revoked, or the file was lost) a new
one is made and said so, and a "dev" profile you changed is not
overwritten without a notice. Requests are logged only when they fail,
unless --verbose.

Two demo workers run beside it: the built-in echo agent on queue "default",
and on queue "demo-steps" a durable agent of three steps and an approval
wait (fetch, draft, a wait for signal "approve", publish; docs/steps.md
"Try it with baton dev"), which is this binary itself (a hidden command).`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), f, cmd.Flags(), dataDir, listen, verbose)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "data directory (default $BATON_DATA_DIR or ~/.local/share/baton/dev)")
	cmd.Flags().StringVar(&listen, "listen", "", "listen address (default $BATON_LISTEN or 127.0.0.1:7070)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "log every request (by default only failed ones)")
	config.PprofFlags(cmd.Flags())
	cmd.AddCommand(newCmdDemoAgent(f))
	return cmd
}

// run starts dev; flags (may be nil) are dev's flags, of which only the
// pprof ones are read through config.LoadServer.
func run(ctx context.Context, f *cmdutil.Factory, flags *pflag.FlagSet, dataDir, listen string, verbose bool) error {
	// BATON_CONFIG names the CLI's profiles file in a developer's shell, so
	// dev does not read it as a server config file.
	getenv := func(k string) string {
		if k == config.EnvConfig {
			return ""
		}
		return f.Getenv(k)
	}
	// Only the pprof flags are read through LoadServer; --data-dir and
	// --listen are applied below, after dev's own defaults.
	pprofFlags := pflag.NewFlagSet("dev", pflag.ContinueOnError)
	for _, name := range []string{"pprof-listen", "pprof-allow-remote"} {
		if flags == nil {
			break
		}
		if fl := flags.Lookup(name); fl != nil {
			pprofFlags.AddFlag(fl)
		}
	}
	cfg, err := config.LoadServer(pprofFlags, getenv)
	if err != nil {
		return &cmdutil.FlagError{Err: err}
	}
	if f.Getenv("BATON_DATA_DIR") == "" {
		cfg.DataDir = filepath.Join(cfg.DataDir, "dev")
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	if listen != "" {
		cfg.Listen = listen
	}
	cfg.DatabaseURL = "" // dev is always the embedded store
	log := f.Logger(cfg.LogFormat, cmdutil.LogOptions{QuietRequests: !verbose})
	srv, err := app.Prepare(ctx, cfg, log)
	if err != nil {
		return err
	}
	creds, err := loadCreds(cfg.DataDir)
	if err != nil {
		srv.Close()
		return err
	}
	if creds.OperatorKey == "" {
		if creds.OperatorKey, err = auth.NewKey(auth.OperatorPrefix); err != nil {
			srv.Close()
			return err
		}
	}
	if _, err := app.EnsureOperatorKey(ctx, srv.Store, srv.Secret, creds.OperatorKey, "dev", time.Now()); err != nil {
		srv.Close()
		return err
	}

	serveCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx) }()

	if err := provision(ctx, f, srv.URL(), cfg.DataDir, &creds); err != nil {
		stop()
		<-done
		return err
	}
	workers := demoWorkers(f, log)
	workerDone := make(chan error, len(workers))
	for _, w := range workers {
		go func() { workerDone <- w.run(serveCtx, f, srv.URL(), creds.WorkspaceKey) }()
	}
	printNextSteps(f, srv.URL(), cfg.DataDir, creds)
	err = <-done
	stop()
	for range workers {
		if werr := <-workerDone; werr != nil && err == nil {
			err = fmt.Errorf("dev: demo worker: %w", werr)
		}
	}
	return err
}

// provision makes sure the dev workspace and its key exist, through the
// API itself, and writes the profiles.
func provision(ctx context.Context, f *cmdutil.Factory, url, dataDir string, creds *devCreds) error {
	admin, err := f.ClientFor(url, creds.OperatorKey, "")
	if err != nil {
		return err
	}
	wsID := ""
	for ws, err := range admin.AllWorkspaces(ctx, 100) {
		if err != nil {
			return fmt.Errorf("dev: list workspaces: %w", err)
		}
		if ws.Name == devWorkspace {
			wsID = ws.ID
			break
		}
	}
	if wsID == "" {
		out, err := admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: devWorkspace, Tier: "pro"})
		if err != nil {
			return fmt.Errorf("dev: create workspace: %w", err)
		}
		wsID, creds.WorkspaceKey = out.Workspace.ID, out.Key.Secret
	} else if !keyWorks(ctx, f, url, creds.WorkspaceKey, wsID) {
		if creds.WorkspaceKey == "" {
			f.Warnf("no saved key for workspace %q in %s: making a new one (the workspace's old keys keep working until revoked)", devWorkspace, filepath.Join(dataDir, credsFile))
		} else {
			f.Warnf("the saved key of workspace %q no longer works (revoked?): making a new one", devWorkspace)
		}
		wsAdmin, err := f.ClientFor(url, creds.OperatorKey, wsID)
		if err != nil {
			return err
		}
		k, err := wsAdmin.CreateKey(ctx, api.CreateKeyRequest{Name: "dev", Scopes: []string{api.ScopeAll}})
		if err != nil {
			return fmt.Errorf("dev: create workspace key: %w", err)
		}
		creds.WorkspaceKey = k.Secret
	}
	creds.WorkspaceID = wsID
	if err := saveCreds(dataDir, *creds); err != nil {
		return err
	}
	return writeProfiles(f, url, *creds)
}

func keyWorks(ctx context.Context, f *cmdutil.Factory, url, key, wsID string) bool {
	if key == "" {
		return false
	}
	c, err := f.ClientFor(url, key, "")
	if err != nil {
		return false
	}
	me, err := c.Me(ctx)
	return err == nil && me.Workspace != nil && me.Workspace.ID == wsID
}

func writeProfiles(f *cmdutil.Factory, url string, creds devCreds) error {
	file, path, err := f.Config()
	if err != nil {
		return err
	}
	if file.Profiles == nil {
		file.Profiles = map[string]config.Profile{}
	}
	for name, key := range map[string]string{ProfileDev: creds.WorkspaceKey, ProfileDevAdmin: creds.OperatorKey} {
		if old, ok := file.Profiles[name]; ok && old.APIKey != "" && old.APIKey != key {
			f.Warnf("profile %q held another key (for %s); it now holds the dev server's (%s)", name, old.Server, url)
		}
	}
	file.Profiles[ProfileDev] = config.Profile{Name: ProfileDev, Server: url, APIKey: creds.WorkspaceKey}
	file.Profiles[ProfileDevAdmin] = config.Profile{Name: ProfileDevAdmin, Server: url, APIKey: creds.OperatorKey}
	if file.CurrentProfile == "" {
		file.CurrentProfile = ProfileDev
	}
	if err := file.Save(path); err != nil {
		return fmt.Errorf("dev: write profiles to %s: %w", path, err)
	}
	return nil
}

// demoWorker is one of the workers `baton dev` runs, so a new user can
// submit a task and see a result with no other setup.
type demoWorker struct{ cfg supervisor.Config }

// demoWorkers are the echo agent on queue "default" (in process) and the
// demo agent of durable steps on queue DemoQueue (this binary, run as
// `baton dev demo-agent` for each attempt: the step endpoint serves
// process agents).
func demoWorkers(f *cmdutil.Factory, log *slog.Logger) []demoWorker {
	ws := []demoWorker{{supervisor.Config{Runner: supervisor.EchoRunner, Queues: []string{api.DefaultQueue},
		Concurrency: 4, WorkerID: "dev-echo", Log: log.With("component", "demo-worker")}}}
	self, err := os.Executable()
	if err != nil {
		f.Warnf("no demo agent on queue %q: %v", DemoQueue, err)
		return ws
	}
	return append(ws, demoWorker{supervisor.Config{Command: []string{self, "dev", "demo-agent"}, Queues: []string{DemoQueue},
		Concurrency: 2, WorkerID: "dev-demo-steps", KillGrace: 2 * time.Second,
		Log: log.With("component", "demo-steps-worker")}})
}

func (w demoWorker) run(ctx context.Context, f *cmdutil.Factory, url, key string) error {
	c, err := f.ClientFor(url, key, "")
	if err != nil {
		return err
	}
	cfg := w.cfg
	cfg.API = c
	return supervisor.Run(ctx, cfg)
}

func printNextSteps(f *cmdutil.Factory, url, dataDir string, creds devCreds) {
	file, path, _ := f.Config()
	use := ""
	if file != nil && file.CurrentProfile != ProfileDev {
		use = " --profile dev"
	}
	f.Infof(`
baton dev is running at %s (data in %s)

  workspace "dev"  %s  (profile "dev", written to %s)
  operator key     profile "dev-admin"

Try, in another shell:
  baton auth status%s
  baton keys list%s
  baton keys create --name ci --scope tasks:write%s
  baton workspaces create acme --tier pro --profile dev-admin
  baton tasks submit --input '{"hello": "world"}' --wait%s
  baton tasks list%s
  baton tiers list%s

A demo worker runs the built-in echo agent on queue "default", and one runs a
durable agent on queue "%s" (three steps and an approval wait):
  id=$(baton tasks submit --queue %s --input '{"topic": "x"}' -q%s)
  baton tasks steps "$id"%s              # fetch and draft done, approval waiting
  baton tasks signal "$id" %s --data '{"ok": true}'%s
  baton tasks wait "$id"%s               # published

Run your own:
  baton worker run --queue mine -- python3 agent.py

Stop with Ctrl-C; the data stays in %s.
`, url, dataDir, creds.WorkspaceID, path, use, use, use, use, use, use, DemoQueue, DemoQueue, use, use, DemoSignal, use, use, dataDir)
}
