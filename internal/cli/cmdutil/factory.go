package cmdutil

import (
	"fmt"
	"net/http"
	"sync"
	"time"

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
	g := f.Globals
	r, err := config.Resolve(file, config.Flags{Server: g.Server, APIKey: g.APIKey, Profile: g.Profile, Workspace: g.Workspace}, f.Getenv)
	if err != nil {
		// A bad --profile or --server (or their variables) is a usage error.
		return r, &FlagError{Err: err}
	}
	return r, nil
}

// Client returns an API client for the resolved profile. Error:
// ErrNotLoggedIn when no key is configured.
func (f *Factory) Client() (*client.Client, error) {
	r, err := f.Resolved()
	if err != nil {
		return nil, err
	}
	if r.APIKey == "" {
		return nil, ErrNotLoggedIn
	}
	return f.ClientFor(r.Server, r.APIKey, r.Workspace)
}

// ClientFor returns an API client for an explicit server and key.
func (f *Factory) ClientFor(server, key, workspace string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent(version.Get().Version), client.WithHTTPClient(f.HTTPClient)}
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
func (f *Factory) Printer() (*output.Printer, error) {
	format, err := output.ParseFormat(f.Globals.Output)
	if err != nil {
		return nil, &FlagError{Err: fmt.Errorf("-o: %w", err)}
	}
	// -q prints ids in place of the table; with a machine format asked
	// for (-q -o json) it only silences hints, as before ids existed.
	quietIDs := f.Globals.Quiet && format == output.FormatTable
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
