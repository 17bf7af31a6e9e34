package usage

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// QuotaOptions are the inputs of `baton usage quota`.
type QuotaOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdQuota returns `baton usage quota`. runF replaces the run logic in
// tests (nil: runQuota).
func NewCmdQuota(f *cmdutil.Factory, runF func(context.Context, *QuotaOptions) error) *cobra.Command {
	opts := &QuotaOptions{Factory: f}
	return &cobra.Command{
		Use:   "quota",
		Short: "Show the workspace's use of its limits this billing period",
		Long: `Show the workspace's use of each limit in the current billing period (the
calendar month, UTC): used, limit, remaining and percent used. Percent can
pass 100 % when a task ran past a limit (overshoot); the monthly limits
(task_executions, execution_seconds, spend_usd) hold queued tasks and stop
running ones when used up. api_rate is the last minute's requests, and
concurrent_tasks and queued_tasks are counts now.

Below the table: the period and when it resets, tasks running, queued and
held (queued but unable to start until a quota resets or is raised), and
the quotas used up now. On a terminal they follow the table on standard
output; piped or with -o csv they go to standard error, so standard output
is just the table. -o json prints the API's quota object.

The exit status is 0 whenever the quota was read, even when a quota is
used up: exit 6 (quota exceeded) means that a request was refused for
quota, and reading the quota never is. To test for a used-up quota in a
script, read .exceeded: baton usage quota -o json | jq -e '.exceeded == []'`,
		Example: `  baton usage quota
  baton usage quota -o json | jq '.metrics[] | select(.percent >= 80) .name'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runQuota(cmd.Context(), opts)
		},
	}
}

// runQuota reads the quota and prints it. Errors: cmdutil.ErrNotLoggedIn,
// the server's *APIError (forbidden without usage:read), printer errors.
func runQuota(ctx context.Context, opts *QuotaOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	q, err := c.Quota(ctx)
	if err != nil {
		return err
	}
	tty := f.IOStreams.IsStdoutTTY()
	human := p.Format() == output.FormatTable && tty
	color := human && f.IOStreams.ColorEnabled()
	if err := p.Print(q, func(output.TimeFormatter) output.Table { return QuotaTable(q, human, color) }); err != nil {
		return err
	}
	switch {
	case p.Filtered(), p.Format() != output.FormatTable && p.Format() != output.FormatCSV:
		// JSON, YAML, JSON lines: the document says it all.
	case human:
		fmt.Fprintln(f.IOStreams.Out)
		writeSummary(f.IOStreams.Out, q, color)
	case !f.Globals.Quiet:
		writeSummary(f.IOStreams.ErrOut, q, false)
	}
	return nil
}

// QuotaTable is the tabular form of a quota: one row per gauge in the
// server's order, with name, used, limit, remaining and percent in human
// units when human (see Quantity and Percent). An unlimited gauge has the
// limit "unlimited" (empty for a program) and no remaining or percent. color paints percents
// from 80 % yellow and from 100 % red.
func QuotaTable(q api.Quota, human, color bool) output.Table {
	t := output.Table{Headers: []string{"name", "used", "limit", "remaining", "percent"}}
	for _, m := range q.Metrics {
		row := []string{QuotaLabel(m.Name), Quantity(m.Name, m.Used, human)}
		if m.Unlimited {
			unlimited := ""
			if human {
				unlimited = "unlimited"
			}
			row = append(row, unlimited, Dash(human), Dash(human))
		} else {
			row = append(row, Quantity(m.Name, m.Limit, human), Quantity(m.Name, m.Remaining, human),
				Gauge(color, m.Percent, Percent(m.Percent, human)))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// writeSummary writes what the table leaves out, as aligned lines.
func writeSummary(w io.Writer, q api.Quota, color bool) {
	name := q.WorkspaceID
	if q.WorkspaceName != "" {
		name = q.WorkspaceName + " (" + q.WorkspaceID + ")"
	}
	ws := name + ", tier " + q.Tier
	if q.Status != "" && q.Status != api.WorkspaceActive {
		ws += ", " + Red(color, q.Status)
	}
	exceeded := "none"
	if len(q.Exceeded) > 0 {
		labels := make([]string, len(q.Exceeded))
		for i, e := range q.Exceeded {
			labels[i] = QuotaLabel(e)
		}
		exceeded = Red(color, strings.Join(labels, ", "))
	}
	for _, l := range [][2]string{
		{"workspace", ws},
		{"period", fmt.Sprintf("%s, resets in %s (%s)", q.Period, Approx(q.ResetsIn), q.PeriodEnd.UTC().Format(time.RFC3339))},
		{"tasks", fmt.Sprintf("%d running, %d queued, %d held", q.Running, q.Queued, q.Held)},
		{"this period", fmt.Sprintf("%d API calls, %d tokens", q.APICalls, q.Tokens)},
		{"exceeded", exceeded},
	} {
		fmt.Fprintf(w, "%-14s%s\n", l[0]+":", l[1])
	}
}
