package admin

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/internal/cli/usage"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// CostsOptions are the inputs of `baton admin costs`.
type CostsOptions struct {
	Factory *cmdutil.Factory
	// Period is the billing period, YYYY-MM; "" is the current one.
	Period string
}

// NewCmdCosts returns `baton admin costs`. runF replaces the run logic in
// tests (nil: runCosts).
func NewCmdCosts(f *cmdutil.Factory, runF func(context.Context, *CostsOptions) error) *cobra.Command {
	opts := &CostsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "costs [--period YYYY-MM]",
		Short: "Show revenue, cost and margin per workspace",
		Long: `Show every workspace's revenue (its tier's monthly price), cost (compute at
the configured rates plus the spend its agents reported) and margin for a
billing period, worst margin first. Amounts are in USD; MARGIN % is the
margin over revenue ("-" without revenue). A negative margin is marked
"negative" in the FLAG column (and red on a colour terminal).

On a terminal a totals row ends the table; piped and with -o csv there is
one row per workspace and amounts are exact. -o json prints the rows as a
JSON array (money in integer micro-dollars, the API's field names), -o jsonl
a row per line.

--period is a month, YYYY-MM (default: the current one).`,
		Example: `  baton admin costs
  baton admin costs --period 2026-10 -o json | jq '.[] | select(.negative) .workspace_id'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("period") {
				if err := validPeriod(opts.Period); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCosts(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Period, "period", "", "billing period, YYYY-MM (default: the current month)")
	_ = cmd.RegisterFlagCompletionFunc("period", cobra.NoFileCompletions)
	return cmd
}

var periodRE = regexp.MustCompile(`^\d{4}-\d{2}$`)

// validPeriod refuses anything but a month YYYY-MM with a FlagError.
func validPeriod(s string) error {
	if !periodRE.MatchString(s) {
		return cmdutil.FlagErrorf("invalid --period %q: want a month as YYYY-MM, e.g. 2026-11", s)
	}
	if _, err := time.Parse("2006-01", s); err != nil {
		return cmdutil.FlagErrorf("invalid --period %q: want a month as YYYY-MM, e.g. 2026-11", s)
	}
	return nil
}

// runCosts fetches the cost report and prints it. Errors:
// cmdutil.ErrNotLoggedIn, the server's *APIError (forbidden without an
// operator key: exit 4), printer errors.
func runCosts(ctx context.Context, opts *CostsOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	r, err := c.AdminCosts(ctx, opts.Period)
	if err != nil {
		return err
	}
	if r.Data == nil {
		r.Data = []api.WorkspaceCost{}
	}
	human := p.Format() == output.FormatTable && f.IOStreams.IsStdoutTTY()
	color := human && f.IOStreams.ColorEnabled()
	// Like every list, -o json prints the rows as an array (-o jsonl a row
	// per line); the totals are the table's last row.
	if err := p.Print(r.Data, func(output.TimeFormatter) output.Table { return CostsTable(r, human, color) }); err != nil {
		return err
	}
	if p.Format() == output.FormatTable {
		noun := "workspaces"
		if len(r.Data) == 1 {
			noun = "workspace"
		}
		f.Infof("period %s: %d %s, %d with a negative margin", r.Period, len(r.Data), noun, negatives(r.Data))
	}
	return nil
}

func negatives(rows []api.WorkspaceCost) int {
	n := 0
	for _, w := range rows {
		if w.Negative || w.MarginMicros < 0 {
			n++
		}
	}
	return n
}

// CostsTable is the tabular form of a cost report, in the server's order
// (worst margin first): workspace, name, tier, revenue, cost, margin (USD),
// margin % and a flag, "negative" for a negative margin. human (a terminal)
// shows dollars with two decimals and ends with the totals row; otherwise
// amounts are exact and there is no totals row. color paints negative
// margins red.
func CostsTable(r api.CostReport, human, color bool) output.Table {
	t := output.Table{Headers: []string{"workspace", "name", "tier", "revenue_usd", "cost_usd", "margin_usd", "margin_%", "flag"},
		Drop: []string{"tier", "revenue_usd", "cost_usd"}}
	for _, w := range r.Data {
		t.Rows = append(t.Rows, costRow(w.WorkspaceID, w.WorkspaceName, w.Tier, w, human, color))
	}
	if human {
		t.Rows = append(t.Rows, costRow("total", "", "", r.Totals, human, color))
	}
	return t
}

func costRow(id, name, tier string, w api.WorkspaceCost, human, color bool) []string {
	neg := w.Negative || w.MarginMicros < 0
	money := api.FormatUSD
	if human {
		money = tiers.USD
	}
	pct := usage.Dash(human)
	if w.MarginPercent != nil {
		pct = strconv.FormatFloat(*w.MarginPercent, 'f', 2, 64)
		if human {
			pct += "%"
		}
	}
	margin := money(w.MarginMicros)
	flag := ""
	if neg {
		margin, pct, flag = usage.Red(color, margin), usage.Red(color, pct), usage.Red(color, "negative")
	}
	return []string{id, name, tier, money(w.RevenueMicros), money(w.CostMicros), margin, pct, flag}
}
