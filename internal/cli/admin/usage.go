package admin

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/usage"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// UsageOptions are the inputs of `baton admin usage`.
type UsageOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdUsage returns `baton admin usage`. runF replaces the run logic in
// tests (nil: runUsage).
func NewCmdUsage(f *cmdutil.Factory, runF func(context.Context, *UsageOptions) error) *cobra.Command {
	opts := &UsageOptions{Factory: f}
	return &cobra.Command{
		Use:   "usage",
		Short: "Show every workspace's usage against its quota",
		Long: `Show every workspace's use of its limits in the current billing period, the
closest to a limit first: task executions, execution time and spend (USD)
this month, and tasks running now against the concurrency cap, each as
used/limit and percent; MAX % is the highest percent of any limit.

On a terminal each cell reads "used/limit (percent)" in human units;
piped and with -o csv every used, limit and percent is a column of its own
(executions, executions_limit, executions_%, …; execution in seconds, spend
in exact dollars). -o json prints the API's quota objects as an array.`,
		Example: `  baton admin usage
  baton admin usage -o json | jq -r '.[] | select(.exceeded != []) .workspace_id'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUsage(cmd.Context(), opts)
		},
	}
}

// runUsage fetches every workspace's quota and prints them. Errors:
// cmdutil.ErrNotLoggedIn, the server's *APIError (forbidden without an
// operator key: exit 4), printer errors.
func runUsage(ctx context.Context, opts *UsageOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	qs, err := c.AdminUsage(ctx)
	if err != nil {
		return err
	}
	if qs == nil {
		qs = []api.Quota{}
	}
	human := p.Format() == output.FormatTable && f.IOStreams.IsStdoutTTY()
	color := human && f.IOStreams.ColorEnabled()
	return p.Print(qs, func(output.TimeFormatter) output.Table { return UsageTable(qs, human, color) })
}

// usageGauges are the columns of `admin usage`: a quota gauge each.
var usageGauges = []struct{ name, column string }{
	{api.QuotaTaskExecutions, "executions"},
	{api.QuotaExecutionSeconds, "exec_time"},
	{api.QuotaSpend, usage.SpendLabel},
	{api.QuotaConcurrency, "concurrency"},
}

// UsageTable is the tabular form of every workspace's quota, in the
// server's order. human (a terminal): one cell per gauge, "used/limit
// (percent)" in human units, and MAX %; otherwise used, limit and percent
// in columns of their own, as plain numbers (execution_seconds, spend_usd
// in exact dollars). color paints percents from
// 80 % yellow and from 100 % red.
func UsageTable(qs []api.Quota, human, color bool) output.Table {
	t := output.Table{Headers: []string{"workspace", "name", "tier"}, Empty: "no workspaces: create one with `baton workspaces create NAME`"}
	// A narrow terminal keeps the workspace, the closest limit and the
	// first gauges.
	t.Drop = []string{"tier"}
	for i := len(usageGauges) - 1; i > 0; i-- {
		t.Drop = append(t.Drop, usageGauges[i].column)
	}
	for _, g := range usageGauges {
		col := g.column
		if !human {
			if g.name == api.QuotaExecutionSeconds {
				col = "execution_seconds"
			}
			t.Headers = append(t.Headers, col, col+"_limit", col+"_%")
			continue
		}
		t.Headers = append(t.Headers, col)
	}
	t.Headers = append(t.Headers, "max_%")
	for _, q := range qs {
		row := []string{q.WorkspaceID, q.WorkspaceName, q.Tier}
		for _, g := range usageGauges {
			m, ok := q.Metric(g.name)
			switch {
			case !ok && human:
				row = append(row, "-")
			case !ok:
				row = append(row, "", "", "")
			case human:
				row = append(row, gaugeCell(m, color))
			default:
				limit, pct := usage.Quantity(m.Name, m.Limit, false), usage.Percent(m.Percent, false)
				if m.Unlimited {
					limit, pct = "", ""
				}
				row = append(row, usage.Quantity(m.Name, m.Used, false), limit, pct)
			}
		}
		maxPct := q.MaxPercent()
		row = append(row, usage.Gauge(color, maxPct, usage.Percent(maxPct, human)))
		t.Rows = append(t.Rows, row)
	}
	return t
}

// gaugeCell is "used/limit (percent)" in human units, or "used/unlimited".
func gaugeCell(m api.QuotaMetric, color bool) string {
	used := usage.Quantity(m.Name, m.Used, true)
	if m.Unlimited {
		return used + "/unlimited"
	}
	return used + "/" + usage.Quantity(m.Name, m.Limit, true) + " (" + usage.Gauge(color, m.Percent, usage.Percent(m.Percent, true)) + ")"
}
