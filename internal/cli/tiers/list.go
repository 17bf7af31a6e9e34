package tiers

import (
	"context"
	"strconv"

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
	return p.Print(tiers, func(output.TimeFormatter) output.Table { return Table(tiers) })
}

// Table is the tabular form of tiers. Its headers read on a terminal as
// NAME, PRICE/MO (USD), RPM, BURST, CONCURRENT, MAX DURATION, QUEUED,
// EXECUTIONS/MO, EXEC SECONDS/MO, SPEND CAP/MO.
func Table(tiers []api.Tier) output.Table {
	t := output.Table{Headers: []string{"name", "price/mo (usd)", "rpm", "burst", "concurrent", "max_duration",
		"queued", "executions/mo", "exec_seconds/mo", "spend_cap/mo"}}
	for _, tier := range tiers {
		l := tier.Limits
		t.Rows = append(t.Rows, []string{
			tier.Name, USD(tier.PriceMonthlyMicro), itoa(l.RequestsPerMinute), itoa(l.Burst),
			itoa(l.MaxConcurrentTasks), Seconds(l.MaxTaskDurationSeconds), itoa(l.MaxQueuedTasks),
			itoa(l.MonthlyTaskExecutions), itoa(l.MonthlyExecutionSeconds), USD(l.MonthlySpendMicros),
		})
	}
	return t
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
