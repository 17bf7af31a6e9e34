package tiers

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// ListOptions are the inputs of `baton tiers list`.
type ListOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdList returns `baton tiers list`. runF replaces the run logic in
// tests (nil: runList).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List the tiers with their prices and limits",
		Long: `List the tiers the server offers: the monthly price and every limit.

Money is in US dollars, durations are human (5m, 1h). With -o json the tiers
are printed as the API returns them (money in integer micro-dollars).`,
		Example: `  baton tiers list
  baton tiers list -o json | jq '.[] | select(.name == "pro") .limits'`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
}

// runList fetches the tiers and prints them. Errors: ErrNotLoggedIn, the
// client's *APIError, printer errors.
func runList(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	tiers, err := c.Tiers(ctx)
	if err != nil {
		return err
	}
	if tiers == nil {
		tiers = []api.Tier{}
	}
	return p.Print(tiers, func(tf output.TimeFormatter) output.Table { return Table(tiers, tf) })
}

// Table is the tabular form of tiers: one row per tier. Its headers read
// on a terminal as NAME, PRICE USD (a month), RPM, BURST, CONCURRENT, MAX
// DURATION, QUEUED, RUNS PER MONTH, EXEC SECS PER MONTH, SPEND CAP USD;
// a terminal too narrow for it gets the same table on its side (one row
// per limit, one column per tier).
func Table(tiers []api.Tier, tf output.TimeFormatter) output.Table {
	t := output.Table{Headers: []string{"name", "price_usd", "rpm", "burst", "concurrent", "max_duration",
		"queued", "runs_per_month", "exec_secs_per_month", "spend_cap_usd"}, Empty: "no tiers"}
	for _, tier := range tiers {
		l := tier.Limits
		t.Rows = append(t.Rows, []string{
			tier.Name, USD(tier.PriceMonthlyMicro), tf.Int(l.RequestsPerMinute), tf.Int(l.Burst),
			tf.Int(l.MaxConcurrentTasks), Seconds(l.MaxTaskDurationSeconds), tf.Int(l.MaxQueuedTasks),
			tf.Int(l.MonthlyTaskExecutions), tf.Int(l.MonthlyExecutionSeconds), USD(l.MonthlySpendMicros),
		})
	}
	side := output.Table{Headers: append([]string{"limit"}, make([]string, len(tiers))...)}
	for i, tier := range tiers {
		side.Headers[i+1] = tier.Name
	}
	for c, h := range t.Headers[1:] {
		row := []string{strings.ReplaceAll(h, "_", " ")}
		for _, r := range t.Rows {
			row = append(row, r[c+1])
		}
		side.Rows = append(side.Rows, row)
	}
	t.Narrow = &side
	return t
}
