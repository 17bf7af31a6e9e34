package alerts

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// ListOptions are the inputs of `baton alerts list`.
type ListOptions struct {
	Factory *cmdutil.Factory
	// Limit is the page size, 1 to 100.
	Limit int
	// All lists acknowledged alerts too, fetching every page.
	All bool
}

// NewCmdList returns `baton alerts list`. runF replaces the run logic in
// tests (nil: runList).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "list [--all] [--limit N]",
		Short: "List open alerts, newest first",
		Long: `List the workspace's open (unacknowledged) alerts, newest first: id, kind
(threshold or anomaly), metric, threshold crossed, period (the month of a
quota's threshold alert, the task of a task_budget one, the hour of an
anomaly), the value and the limit (the quota, the task's budget, or an
anomaly's baseline rate per hour) in the metric's unit, the message, and
when it was raised and acknowledged.

Without --all: the first page of --limit open alerts. --all lists every
alert, acknowledged ones too, fetching every page (then --limit is the page
size). -o json prints a JSON array of alert objects.`,
		Example: `  baton alerts list
  baton alerts list --all -o json | jq -r '.[] | select(.kind == "anomaly") .message'`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 || opts.Limit > 100 {
				return cmdutil.FlagErrorf("--limit must be between 1 and 100, not %d", opts.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 20, "alerts per page (1-100)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "list every alert, acknowledged ones too, fetching every page")
	return cmd
}

// runList prints the alerts. Errors: cmdutil.ErrNotLoggedIn, the server's
// *APIError (forbidden without usage:read), printer errors.
func runList(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	lo := client.AlertListOptions{All: opts.All, ListOptions: client.ListOptions{Limit: opts.Limit}}
	alerts, more, err := cmdutil.CollectList(opts.All, c.AllAlerts(ctx, lo),
		func() (api.List[api.Alert], error) { return c.ListAlerts(ctx, lo) })
	if err != nil {
		return err
	}
	defer f.HintMore(more, "alert")
	human := p.Format() == output.FormatTable && f.IOStreams.IsStdoutTTY()
	return p.Print(alerts, func(tf output.TimeFormatter) output.Table {
		t := table(alerts, human, tf)
		t.Empty = "no open alerts (`baton alerts list --all` shows acknowledged ones too)"
		if opts.All {
			t.Empty = "no alerts: one is raised when usage crosses 80 % or 100 % of a quota, or spikes"
		}
		return t
	})
}
