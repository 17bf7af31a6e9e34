package statuscmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
	"github.com/genericcorp/baton/pkg/config"
)

// Check results.
const (
	CheckOK   = "ok"
	CheckWarn = "warn"
	CheckFail = "fail"
)

// Check is one line of `baton doctor`.
type Check struct {
	Name    string `json:"name"`
	Status  string `json:"status"` // CheckOK, CheckWarn or CheckFail
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Thresholds of the checks.
const (
	doctorTimeout = 5 * time.Second
	skewWarn      = 30 * time.Second
	skewFail      = 5 * time.Minute
	expirySoon    = 7 * 24 * time.Hour
)

// NewCmdDoctor returns `baton doctor`.
func NewCmdDoctor(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the setup: config, profile, server, clock, key, workers, TLS",
		Long: `Check that this setup works, one line per check: ✓ fine, ! a warning, ✗ a
problem, each problem with its fix.

  config   the config file exists and is private (mode 0600)
  profile  the profile in use exists and has a key
  server   the server answers /healthz, and its version
  tls      https, or plain HTTP on loopback (plain HTTP elsewhere: !)
  clock    the server's clock is within 30s of this machine's (✗ past 5m)
  key      the server accepts the key; ! when it expires within 7 days
  workers  a worker polls the workspace's queues (! when none)

Exit 0 when no check failed (warnings allowed), 1 otherwise. -o json prints
the checks as an array of {name, status, message, fix}.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			checks := RunChecks(cmd.Context(), f)
			if err := printChecks(f, checks); err != nil {
				return err
			}
			for _, c := range checks {
				if c.Status == CheckFail {
					return &cmdutil.ExitError{Code: cmdutil.ExitFailure}
				}
			}
			return nil
		},
	}
}

func printChecks(f *cmdutil.Factory, checks []Check) error {
	p, err := f.Printer()
	if err != nil {
		return err
	}
	if p.Format() != output.FormatTable || p.Filtered() {
		return p.Print(checks, func(output.TimeFormatter) output.Table {
			t := output.Table{Headers: []string{"name", "status", "message", "fix"}}
			for _, c := range checks {
				t.Rows = append(t.Rows, []string{c.Name, c.Status, c.Message, c.Fix})
			}
			return t
		})
	}
	color := f.IOStreams.ColorEnabled()
	// On a terminal a long message or fix wraps at spaces under its start
	// (a path or URL stays whole, to be copied); piped, each is one line.
	width := 0
	if f.IOStreams.IsStdoutTTY() {
		width = f.IOStreams.TerminalWidth() - len(checkIndent)
	}
	wrap := func(s string) string {
		if width < 20 {
			return s
		}
		return strings.ReplaceAll(ansi.Wordwrap(s, width, ""), "\n", "\n"+checkIndent)
	}
	for _, c := range checks {
		mark := map[string]string{CheckOK: "✓", CheckWarn: "!", CheckFail: "✗"}[c.Status]
		if color {
			mark = map[string]string{CheckOK: "\x1b[32m", CheckWarn: "\x1b[33m", CheckFail: "\x1b[31m"}[c.Status] + mark + "\x1b[0m"
		}
		fmt.Fprintf(f.IOStreams.Out, "%s %-8s %s\n", mark, c.Name, wrap(c.Message))
		if c.Fix != "" {
			fmt.Fprintf(f.IOStreams.Out, "%s%s\n", checkIndent, wrap("fix: "+c.Fix))
		}
	}
	return nil
}

// checkIndent is where a check's message starts: after the mark and the
// name ("✓ server   ").
const checkIndent = "           "

// RunChecks runs every check in order; a check that cannot run because an
// earlier one failed is left out.
func RunChecks(ctx context.Context, f *cmdutil.Factory) []Check {
	var checks []Check
	add := func(name, status, msg, fix string) { checks = append(checks, Check{name, status, msg, fix}) }

	// config
	_, path, cfgErr := f.Config()
	switch st, err := os.Stat(path); {
	case cfgErr != nil:
		add("config", CheckFail, cfgErr.Error(), "fix or remove the file, then `baton login`")
	case errors.Is(err, os.ErrNotExist):
		add("config", CheckWarn, "no config file at "+path, "`baton login` writes one (or use BATON_SERVER and BATON_API_KEY)")
	case err != nil:
		add("config", CheckFail, err.Error(), "")
	case st.Mode().Perm()&0o077 != 0:
		add("config", CheckFail, fmt.Sprintf("%s is readable by others (mode %#o): it holds API keys", path, st.Mode().Perm()), "chmod 600 "+path)
	default:
		add("config", CheckOK, path+" (mode 0600)", "")
	}

	// profile
	r, err := f.Resolved()
	if err != nil {
		add("profile", CheckFail, err.Error(), "see `baton profile list`")
		return checks
	}
	file, _, _ := f.Config()
	_, exists := file.Profiles[r.Profile]
	fromFlag := r.Source["profile"] == config.SourceFlag || r.Source["profile"] == config.SourceEnv
	switch {
	case fromFlag && !exists:
		add("profile", CheckFail, fmt.Sprintf("no profile %q", r.Profile), "`baton login --profile "+r.Profile+"`, or pick one from `baton profile list`")
	case r.APIKey == "":
		add("profile", CheckFail, fmt.Sprintf("profile %q has no API key", r.Profile), "`baton login`, or set BATON_API_KEY")
	default:
		add("profile", CheckOK, fmt.Sprintf("profile %q, key from %s", r.Profile, r.Source["api_key"]), "")
	}

	// server, clock
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	start := time.Now()
	health, date, err := healthz(ctx, f, r.Server)
	if err != nil {
		add("server", CheckFail, fmt.Sprintf("%s does not answer: %v", r.Server, shortNetErr(err)),
			"start it (`baton dev` for a local one) or point --server / BATON_SERVER / the profile at yours")
		addTLS(add, r.Server)
		return checks
	}
	add("server", CheckOK, fmt.Sprintf("%s answers (version %s, %s)", r.Server, health.Version, output.Duration(time.Since(start))), "")
	addTLS(add, r.Server)
	if !date.IsZero() {
		skew := time.Since(date).Round(time.Second)
		if skew < 0 {
			skew = -skew
		}
		switch {
		case skew > skewFail:
			add("clock", CheckFail, fmt.Sprintf("this clock and the server's differ by %s: session tokens and key expiry go wrong", skew), "sync the clock (NTP)")
		case skew > skewWarn:
			add("clock", CheckWarn, fmt.Sprintf("this clock and the server's differ by %s", skew), "sync the clock (NTP)")
		default:
			add("clock", CheckOK, "in step with the server's", "")
		}
	}
	if r.APIKey == "" {
		return checks
	}

	// key, workers
	c, err := f.ClientFor(r.Server, r.APIKey, r.Workspace)
	if err != nil {
		add("key", CheckFail, err.Error(), "")
		return checks
	}
	me, err := c.Me(ctx)
	var apiErr *client.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == api.CodeUnauthenticated:
		detail := apiErr.Detail
		if detail == "" {
			detail = apiErr.Title
		}
		add("key", CheckFail, "the server refuses the key: "+detail, "`baton login` with a valid key (`baton keys create` makes one)")
		return checks
	case err != nil:
		add("key", CheckFail, err.Error(), "")
		return checks
	}
	who := fmt.Sprintf("%s (%s)", me.Key.Name, me.Key.ID)
	if me.Workspace != nil {
		who += " in workspace " + me.Workspace.Name
	} else {
		who = "operator key " + who
	}
	switch exp := me.Key.ExpiresAt; {
	case exp != nil && time.Until(*exp) < expirySoon:
		add("key", CheckWarn, fmt.Sprintf("%s expires in %s (%s)", who, output.Duration(time.Until(*exp).Round(time.Minute)), exp.UTC().Format(time.RFC3339)),
			"`baton keys rotate "+me.Key.ID+"` (or create a new key) before then")
	default:
		add("key", CheckOK, who+" accepted", "")
	}
	if me.Workspace == nil && r.Workspace == "" {
		return checks // an operator key without a workspace has no queues
	}
	switch ws, err := c.ListWorkers(ctx); {
	case err != nil:
		add("workers", CheckWarn, "cannot list workers: "+shortNetErr(err).Error(), "")
	case len(ws) == 0:
		add("workers", CheckWarn, "no worker polled in the last minute: tasks will wait", "`baton worker run --queue NAME -- CMD` on a machine that runs the agent")
	default:
		add("workers", CheckOK, fmt.Sprintf("%d polling", len(ws)), "")
	}
	return checks
}

// addTLS checks the server URL's scheme: https, or plain HTTP only to a
// loopback address.
func addTLS(add func(name, status, msg, fix string), server string) {
	u, err := url.Parse(server)
	if err != nil {
		return
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	switch {
	case u.Scheme == "https":
		add("tls", CheckOK, "https", "")
	case loopback:
		add("tls", CheckOK, "plain HTTP on loopback", "")
	default:
		add("tls", CheckWarn, "plain HTTP to "+host+": keys and data travel unencrypted", "serve baton behind TLS and use an https:// server URL")
	}
}

// healthz asks GET /healthz and returns the health and the response's Date.
func healthz(ctx context.Context, f *cmdutil.Factory, server string) (api.Health, time.Time, error) {
	var h api.Health
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/healthz", nil)
	if err != nil {
		return h, time.Time{}, err
	}
	resp, err := f.HTTPClient.Do(req)
	if err != nil {
		return h, time.Time{}, err
	}
	defer resp.Body.Close()
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	if resp.StatusCode != http.StatusOK {
		return h, date, fmt.Errorf("%s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, date, fmt.Errorf("not a baton server: %w", err)
	}
	return h, date, nil
}

// shortNetErr drops the URL from a network error: "connection refused".
func shortNetErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}
