package cmdutil

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/genericcorp/baton/internal/iostreams"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/internal/version"
	"github.com/genericcorp/baton/pkg/client"
	"github.com/genericcorp/baton/pkg/config"
)

// Globals are the global flags of CONTRACT.md.
type Globals struct {
	Server    string
	Profile   string
	APIKey    string
	Workspace string
	Output    string
	NoColor   bool
	Quiet     bool
	JQ        string
	Template  string
	Debug     bool
	Timeout   time.Duration
}

// Factory gives commands what they need, built lazily from the global flags,
// the environment and the config file. Tests replace any field.
type Factory struct {
	IOStreams *iostreams.IOStreams
	Getenv    func(string) string
	Globals   *Globals
	Now       func() time.Time
	// HTTPClient is the transport for API calls (tests point it anywhere).
	HTTPClient *http.Client
	// DialRetries is how often a request that could not connect is
	// retried: 0 (the default) fails at once, so a command against a
	// stopped server says so at once; long-running commands (the worker)
	// raise it.
	DialRetries int
	// GlobalFlags are the root's persistent flags, bound into the
	// resolution of the settings (see config.Resolve).
	GlobalFlags *pflag.FlagSet
	// ProcessEnv says that Getenv is the process environment, so viper
	// reads it itself (AutomaticEnv); otherwise Getenv is an injected one.
	ProcessEnv bool

	cfgOnce sync.Once
	cfg     *config.File
	cfgPath string
	cfgErr  error
}

// New returns a Factory for a real run.
func New(ios *iostreams.IOStreams, getenv func(string) string) *Factory {
	return &Factory{IOStreams: ios, Getenv: getenv, Globals: &Globals{Output: "table"}, Now: time.Now, HTTPClient: &http.Client{}}
}

// Config loads the CLI config file once and returns it with its path.
func (f *Factory) Config() (*config.File, string, error) {
	f.cfgOnce.Do(func() {
		f.cfgPath, f.cfgErr = config.Path(f.Getenv)
		if f.cfgErr == nil {
			f.cfg, f.cfgErr = config.Load(f.cfgPath)
		}
	})
	return f.cfg, f.cfgPath, f.cfgErr
}

// Resolved returns the effective server, key, workspace and profile after
// applying flag > environment > config file.
func (f *Factory) Resolved() (config.Resolved, error) {
	file, _, err := f.Config()
	if err != nil {
		return config.Resolved{}, err
	}
	o := config.ResolveOptions{File: file, Flags: f.GlobalFlags, Getenv: f.Getenv}
	if f.ProcessEnv {
		o.Getenv = nil
	}
	if o.Flags == nil {
		o.Flags = f.flagsOfGlobals()
	}
	r, err := config.Resolve(o)
	if err != nil {
		// A bad --profile or --server (or their variables) is a usage error.
		return r, &FlagError{Err: err}
	}
	return r, nil
}

// ApplySettings resolves the global settings (flag > environment > config
// file > default) into Globals, before a command runs. A config that does
// not resolve is left to the commands that need it (Resolved reports it):
// the flags given stay in effect.
func (f *Factory) ApplySettings() {
	r, err := f.Resolved()
	if err != nil {
		return
	}
	g := f.Globals
	g.Output, g.NoColor, g.Quiet, g.JQ, g.Template, g.Debug, g.Timeout = r.Output, r.NoColor, r.Quiet, r.JQ, r.Template, r.Debug, r.Timeout
}

// flagsOfGlobals is a flag set holding the Globals' values as set flags,
// for a Factory built without a command tree (tests).
func (f *Factory) flagsOfGlobals() *pflag.FlagSet {
	g := f.Globals
	fs := pflag.NewFlagSet("globals", pflag.ContinueOnError)
	for name, val := range map[string]string{"server": g.Server, "profile": g.Profile, "api-key": g.APIKey, "workspace": g.Workspace} {
		fs.String(name, "", "")
		if val != "" {
			_ = fs.Set(name, val)
		}
	}
	return fs
}

// Client returns an API client for the resolved profile. Error:
// ErrNotLoggedIn when no key is configured.
func (f *Factory) Client() (*client.Client, error) {
	r, err := f.Resolved()
	if err != nil {
		return nil, err
	}
	if r.APIKey == "" {
		if err := f.checkProfileExists(r); err != nil {
			return nil, err
		}
		return nil, ErrNotLoggedIn
	}
	c, err := f.ClientFor(r.Server, r.APIKey, r.Workspace)
	if err != nil || r.Workspace == "" || strings.HasPrefix(r.Workspace, "ws_") {
		return c, err
	}
	// --workspace NAME: an operator key finds the workspace by name.
	admin, err := f.ClientFor(r.Server, r.APIKey, "")
	if err != nil {
		return nil, err
	}
	id, err := f.workspaceByName(admin, r.Workspace)
	if err != nil {
		return nil, err
	}
	return f.ClientFor(r.Server, r.APIKey, id)
}

// checkProfileExists returns a usage error when a profile named with
// --profile or BATON_PROFILE is not in the config file: the problem is the
// name, not a missing login.
func (f *Factory) checkProfileExists(r config.Resolved) error {
	src := r.Source["profile"]
	if src != config.SourceFlag && src != config.SourceEnv {
		return nil
	}
	file, _, err := f.Config()
	if err != nil {
		return err
	}
	if _, ok := file.Profiles[r.Profile]; ok {
		return nil
	}
	from := "--profile"
	if src == config.SourceEnv {
		from = config.EnvProfile
	}
	names := file.ProfileNames()
	hint := "create it with `baton login --profile " + r.Profile + "`"
	if len(names) > 0 {
		hint = "profiles: " + strings.Join(names, ", ") + "; or " + hint
	}
	return WithHint(FlagErrorf("no profile %q (from %s)", r.Profile, from), hint)
}

// workspaceLookupTimeout bounds finding a workspace by name.
const workspaceLookupTimeout = 10 * time.Second

// workspaceByName returns the id of the workspace called name, listing
// workspaces with c (an operator key). Errors: not found (exit 3), two
// workspaces of that name (a usage error), the server's.
func (f *Factory) workspaceByName(c *client.Client, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), workspaceLookupTimeout)
	defer cancel()
	var ids []string
	for ws, err := range c.AllWorkspaces(ctx, 100) {
		if err != nil {
			return "", fmt.Errorf("find workspace %q: %w", name, err)
		}
		if ws.Name == name {
			ids = append(ids, ws.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", WithHint(&ExitError{Code: ExitNotFound, Err: fmt.Errorf("no workspace named %q", name)}, "list them with `baton workspaces list`")
	case 1:
		return ids[0], nil
	}
	return "", FlagErrorf("%d workspaces are named %q (%s): pass --workspace ID", len(ids), name, strings.Join(ids, ", "))
}

// ClientFor returns an API client for an explicit server and key.
func (f *Factory) ClientFor(server, key, workspace string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent(version.Get().Version), client.WithHTTPClient(f.HTTPClient),
		client.WithDialRetries(f.DialRetries)}
	if f.Globals.Timeout > 0 {
		// --timeout bounds each request, not the command: `logs -f`,
		// `tasks wait` and `top` run as long as they need.
		opts = append(opts, client.WithRequestTimeout(f.Globals.Timeout))
	}
	if key != "" {
		opts = append(opts, client.WithAPIKey(key))
	}
	if workspace != "" {
		opts = append(opts, client.WithWorkspace(workspace))
	}
	if f.Globals.Debug {
		opts = append(opts, client.WithDebug(f.IOStreams.ErrOut))
	}
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, FlagErrorf("invalid server URL %q: %v", server, err)
	}
	return c, nil
}

// Printer returns the output printer for -o.
func (f *Factory) Printer() (*output.Printer, error) { return f.printer(true) }

// PrinterWithoutFilter is Printer without -q's ids (--jq and --template
// still apply): for output that has no ids, such as log lines.
func (f *Factory) PrinterWithoutFilter() (*output.Printer, error) { return f.printer(false) }

func (f *Factory) printer(ids bool) (*output.Printer, error) {
	format, err := output.ParseFormat(f.Globals.Output)
	if err != nil {
		return nil, &FlagError{Err: fmt.Errorf("-o: %w", err)}
	}
	// -q prints ids in place of the table; with a machine format asked
	// for (-q -o json) it only silences hints, as before ids existed.
	quietIDs := ids && f.Globals.Quiet && format == output.FormatTable
	filter, err := output.ParseFilter(quietIDs, f.Globals.JQ, f.Globals.Template)
	if err != nil {
		return nil, &FlagError{Err: err}
	}
	return output.New(f.IOStreams, format, output.WithNow(f.Now), output.WithFilter(filter)), nil
}

// JSONOutput reports whether -o asks for a machine format, in which case
// errors are printed as JSON too.
func (f *Factory) JSONOutput() bool {
	switch f.Globals.Output {
	case "json", "jsonl", "yaml":
		return true
	}
	return false
}

// Infof prints a progress or hint line to stderr unless --quiet.
func (f *Factory) Infof(format string, args ...any) {
	if !f.Globals.Quiet {
		fmt.Fprintf(f.IOStreams.ErrOut, format+"\n", args...)
	}
}

// Warnf prints "warning: …" to stderr, even with --quiet (a warning is
// not progress).
func (f *Factory) Warnf(format string, args ...any) {
	fmt.Fprintf(f.IOStreams.ErrOut, "warning: "+format+"\n", args...)
}

// PrinterAndClient returns the output printer and the API client, the
// preamble of every command that reads from the server and prints.
func (f *Factory) PrinterAndClient() (*output.Printer, *client.Client, error) {
	p, err := f.Printer()
	if err != nil {
		return nil, nil, err
	}
	c, err := f.Client()
	if err != nil {
		return nil, nil, err
	}
	return p, c, nil
}
