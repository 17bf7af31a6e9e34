// Package alerts is `baton alerts`: the workspace's alerts (a quota
// crossing 80 % or 100 %, or a usage anomaly) and acknowledging them.
package alerts

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/usage"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// NewCmdAlerts returns the `baton alerts` group.
func NewCmdAlerts(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "alerts <command>",
		Aliases: []string{"alert"},
		Short:   "List and acknowledge quota and anomaly alerts",
		Long: `List the workspace's alerts and acknowledge them. A threshold alert is raised
when a quota crosses 80 % and 100 % in a billing period, and when a task's
spend (its children's included) crosses 80 % and 100 % of its budget
(metric task_budget, period the task's id); an anomaly alert when an hour's
usage spikes against the trailing baseline. Needs a key with
the usage:read scope; with an operator key, --workspace ID.`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdAck(f, nil))
	return cmd
}

// completeIDs completes the first positional argument with the ids of open
// alerts (described by their messages), asking the server; on any error it
// offers nothing.
func completeIDs(f *cmdutil.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return cmdutil.CompleteIDs(f,
		func(ctx context.Context, c *client.Client) (api.List[api.Alert], error) {
			return c.ListAlerts(ctx, client.AlertListOptions{ListOptions: client.ListOptions{Limit: 100}})
		},
		func(a api.Alert) (string, string, bool) { return a.ID, a.Message, a.AckedAt == nil })
}

// value formats an alert's value or limit in its metric's unit: dollars for
// money, a duration for time, else a number (an anomaly's hourly rate with
// at most one decimal).
func value(a api.Alert, v float64, human bool) string {
	switch a.Metric {
	case api.QuotaSpend, api.MetricCostMicros, api.QuotaExecutionSeconds, api.MetricExecutionMS:
		return usage.Quantity(a.Metric, int64(v+0.5), human)
	case api.AlertMetricTaskBudget: // a task's spend against its max_cost_micros
		return usage.Quantity(api.QuotaSpend, int64(v+0.5), human)
	}
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// threshold formats a threshold alert's percentage ("80%", or "80" for a
// program); anomalies have none.
func threshold(a api.Alert, human bool) string {
	if a.Kind != api.AlertThreshold || a.Threshold == 0 {
		return usage.Dash(human)
	}
	s := strconv.Itoa(a.Threshold)
	if human {
		s += "%"
	}
	return s
}

// period is an alert's period: a month (YYYY-MM) or a task's id (a
// task_budget alert) as is; an anomaly's hour
// (RFC 3339) as is for a program, shorter for a person ("2026-11-28 21:00Z").
func period(p string, human bool) string {
	if t, err := time.Parse(time.RFC3339, p); err == nil && human {
		return t.UTC().Format("2006-01-02 15:04Z")
	}
	return p
}

// fields is the table form of one alert.
func fields(a api.Alert, human bool, tf output.TimeFormatter) [][2]string {
	return [][2]string{{"id", a.ID}, {"kind", a.Kind}, {"metric", usage.QuotaLabel(a.Metric)},
		{"threshold", threshold(a, human)}, {"period", period(a.Period, human)}, {"value", value(a, a.Value, human)},
		{"limit", value(a, a.Limit, human)}, {"message", a.Message}, {"created", tf.Time(a.CreatedAt)},
		{"acked", tf.TimePtr(a.AckedAt)}}
}

// table is the tabular form of a list of alerts.
func table(alerts []api.Alert, human bool, tf output.TimeFormatter) output.Table {
	t := output.Table{Headers: []string{"id", "kind", "metric", "threshold", "period", "value", "limit", "message", "created", "acked"},
		Drop: []string{"acked", "limit", "value", "period", "threshold", "kind"}}
	for _, a := range alerts {
		row := make([]string, 0, len(t.Headers))
		for _, kv := range fields(a, human, tf) {
			row = append(row, kv[1])
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
