// Package cli is baton's command tree. Each noun is a package under it
// with one file per verb; this file wires them and the global flags.
package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/admin"
	"github.com/genericcorp/baton/internal/cli/alerts"
	"github.com/genericcorp/baton/internal/cli/apicmd"
	"github.com/genericcorp/baton/internal/cli/authcmd"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/devcmd"
	"github.com/genericcorp/baton/internal/cli/fleet"
	"github.com/genericcorp/baton/internal/cli/keys"
	"github.com/genericcorp/baton/internal/cli/profile"
	"github.com/genericcorp/baton/internal/cli/servercmd"
	"github.com/genericcorp/baton/internal/cli/statuscmd"
	"github.com/genericcorp/baton/internal/cli/stepcmd"
	"github.com/genericcorp/baton/internal/cli/tasks"
	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/internal/cli/top"
	"github.com/genericcorp/baton/internal/cli/usage"
	"github.com/genericcorp/baton/internal/cli/versioncmd"
	"github.com/genericcorp/baton/internal/cli/worker"
	"github.com/genericcorp/baton/internal/cli/workspaces"
	"github.com/genericcorp/baton/internal/iostreams"
)

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, ios *iostreams.IOStreams) int {
	f := cmdutil.New(ios, getenv)
	// Main is the process's entry: getenv is the process environment,
	// which viper reads itself.
	f.ProcessEnv = true
	return Run(ctx, f, args)
}

// Run executes the command tree against a prepared Factory (tests use it
// with iostreams.Test and a fake environment).
func Run(ctx context.Context, f *cmdutil.Factory, args []string) int {
	root, cleanup := newRoot(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	cleanup()
	if err != nil && cmd != nil && errors.Is(err, errShowUsage) {
		err = cmdutil.FlagErrorf("%s needs a subcommand\n\n%s", cmd.CommandPath(), cmd.UsageString())
	}
	code := exitCode(ctx, err)
	if err != nil {
		printError(f, ctx, err, code)
	}
	return code
}

var errShowUsage = errors.New("show usage")

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	root, _ := newRoot(f)
	return root
}

// newRoot builds the tree and returns a cleanup that releases what the run
// set up. It is per run, not cobra.OnFinalize, whose callbacks are
// process-wide. (--timeout is no bound on the run: it bounds each HTTP
// request, in the client; see cmdutil.Factory.ClientFor.)
func newRoot(f *cmdutil.Factory) (*cobra.Command, func()) {
	g := f.Globals
	root := &cobra.Command{
		Use:   "baton",
		Short: "Durable agent tasks with a hard budget per customer",
		Long: `baton runs AI-agent tasks durably for many tenants, with hard cost control.

The same binary is the CLI (workspaces, keys, tasks, usage), the server
(baton server, baton dev) and the worker supervisor (baton worker run).`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			f.ApplySettings()
			if g.NoColor {
				f.IOStreams.SetColorEnabled(false)
			}
			return nil
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })

	pf := root.PersistentFlags()
	pf.StringVar(&g.Server, "server", "", "server URL (env BATON_SERVER)")
	pf.StringVar(&g.Profile, "profile", "", "config profile to use (env BATON_PROFILE)")
	pf.StringVar(&g.APIKey, "api-key", "", "API key (env BATON_API_KEY)")
	pf.StringVar(&g.Workspace, "workspace", "", "workspace to act on, with an operator key (env BATON_WORKSPACE)")
	pf.StringVarP(&g.Output, "output", "o", "table", "output format: table|json|yaml|csv|jsonl (env BATON_OUTPUT)")
	pf.BoolVar(&g.NoColor, "no-color", false, "disable colour (env BATON_NO_COLOR, NO_COLOR)")
	pf.BoolVarP(&g.Quiet, "quiet", "q", false, "print only ids (lists and creates), no progress or hints (env BATON_QUIET)")
	pf.StringVar(&g.JQ, "jq", "", "filter the JSON result with a jq expression (env BATON_JQ; see: baton help formatting)")
	pf.StringVar(&g.Template, "template", "", "format the JSON result with a Go template (env BATON_TEMPLATE; see: baton help formatting)")
	pf.BoolVar(&g.Debug, "debug", false, "trace HTTP requests to stderr, secrets redacted (env BATON_DEBUG)")
	pf.DurationVar(&g.Timeout, "timeout", 0, "bound each HTTP request, e.g. 30s (each retry anew; streams only until they open; 0 = none) (env BATON_TIMEOUT)")
	f.GlobalFlags = pf
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml", "csv", "jsonl"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("profile", profile.CompleteNames(f))

	root.AddCommand(
		authcmd.NewCmdLogin(f, nil),
		authcmd.NewCmdLogout(f, nil),
		authcmd.NewCmdAuth(f),
		profile.NewCmdProfile(f),
		workspaces.NewCmdWorkspaces(f),
		keys.NewCmdKeys(f),
		tasks.NewCmdTasks(f),
		usage.NewCmdUsage(f),
		alerts.NewCmdAlerts(f),
		admin.NewCmdAdmin(f),
		tiers.NewCmdTiers(f),
		top.NewCmdTop(f),
		worker.NewCmdWorker(f),
		stepcmd.NewCmdStep(f),
		servercmd.NewCmdServer(f),
		devcmd.NewCmdDev(f),
		versioncmd.NewCmdVersion(f),
		newCmdCompletion(f),
		fleet.NewCmdWorkers(f),
		fleet.NewCmdQueues(f),
		apicmd.NewCmdAPI(f, nil),
		statuscmd.NewCmdStatus(f, nil),
		statuscmd.NewCmdDoctor(f),
	)
	for _, c := range root.Commands() {
		markGroups(c)
	}
	addHelpTopics(root)
	return root, func() {}
}

// markGroups makes a bare noun (`baton keys`) a usage error listing its
// verbs rather than a silent help page with exit 0.
func markGroups(c *cobra.Command) {
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2 // what cobra uses on the root only
	}
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
				}
				return cmdutil.WithHint(cmdutil.FlagErrorf("%s", msg), fmt.Sprintf("`%s --help` lists the commands", cmd.CommandPath()))
			}
			return errShowUsage
		}
	}
	for _, sub := range c.Commands() {
		markGroups(sub)
	}
}
