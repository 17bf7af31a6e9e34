// Package statuscmd is `baton status` (the workspace at a glance) and
// `baton doctor` (is this setup going to work, and if not, why).
package statuscmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/olekukonko/tablewriter/pkg/twwidth"
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/usage"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// Status is what `baton status -o json` prints.
type Status struct {
	Quota      api.Quota    `json:"quota"`
	Workers    []api.Worker `json:"workers"`
	OpenAlerts []api.Alert  `json:"open_alerts"`
}

// NewCmdStatus returns `baton status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(context.Context, *cmdutil.Factory) error) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the workspace at a glance: quota, tasks, workers, alerts",
		Long: `Show the workspace at a glance: its tier and period, a bar for each quota,
the tasks running, queued and held, the workers polling, and the alerts not
yet acknowledged. For the detail see ` + "`baton usage quota`, `baton queues list`, `baton workers list`" + `
and ` + "`baton alerts list`" + `. -o json prints {quota, workers, open_alerts}.`,
		Example: `  baton status
  baton status --jq '.quota.held'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), f)
			}
			return runStatus(cmd.Context(), f)
		},
	}
}

func runStatus(ctx context.Context, f *cmdutil.Factory) error {
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	q, err := c.Quota(ctx)
	if err != nil {
		return err
	}
	st := Status{Quota: q, Workers: []api.Worker{}, OpenAlerts: []api.Alert{}}
	// Workers and alerts are extras: a key without their scope still gets
	// the rest.
	if ws, err := c.ListWorkers(ctx); err == nil && ws != nil {
		st.Workers = ws
	}
	if l, err := c.ListAlerts(ctx, client.AlertListOptions{ListOptions: client.ListOptions{Limit: 20}}); err == nil {
		for _, a := range l.Data {
			if a.AckedAt == nil {
				st.OpenAlerts = append(st.OpenAlerts, a)
			}
		}
	}
	color := f.IOStreams.ColorEnabled() && f.IOStreams.IsStdoutTTY()
	width := f.IOStreams.TerminalWidth()
	return p.PrintObject(st, func(tf output.TimeFormatter) [][2]string { return statusFields(st, tf, color, width) })
}

// barWidth is the width of a quota bar.
const barWidth = 20

// Bar draws p percent as a bar of barWidth cells ("██████░░░░…"), yellow
// from 80 % and red from 100 % when color.
func Bar(p float64, color bool) string {
	n := min(max(int(p/100*barWidth+0.5), 0), barWidth)
	b := strings.Repeat("█", n) + strings.Repeat("░", barWidth-n)
	return usage.Gauge(color, p, b)
}

// statusFields is the key-value form of st; width is the terminal's, which
// alert messages are cut to (with …) so that their ids stay whole.
func statusFields(st Status, tf output.TimeFormatter, color bool, width int) [][2]string {
	q := st.Quota
	human := tf.Human()
	ws := q.WorkspaceID
	if q.WorkspaceName != "" {
		ws = q.WorkspaceName + " (" + q.WorkspaceID + ")"
	}
	ws += ", tier " + q.Tier
	if q.Status != "" {
		state := q.Status
		if color {
			state = output.Colorize(state)
		}
		ws += ", " + state
	}
	var quota []string
	lw := 0
	for _, m := range q.Metrics {
		lw = max(lw, len(usage.QuotaLabel(m.Name)))
	}
	for _, m := range q.Metrics {
		name := fmt.Sprintf("%-*s", lw, usage.QuotaLabel(m.Name))
		if m.Unlimited {
			quota = append(quota, fmt.Sprintf("%s  %s  unlimited", name, usage.Quantity(m.Name, m.Used, human)))
			continue
		}
		line := fmt.Sprintf("%s  %s %s  %s of %s", name, Bar(m.Percent, color), fmt.Sprintf("%6s", usage.Percent(m.Percent, human)),
			usage.Quantity(m.Name, m.Used, human), usage.Quantity(m.Name, m.Limit, human))
		if !human {
			line = fmt.Sprintf("%s %s %s/%s", m.Name, usage.Percent(m.Percent, false), usage.Quantity(m.Name, m.Used, false), usage.Quantity(m.Name, m.Limit, false))
		}
		quota = append(quota, line)
	}
	sep := "\n"
	if !human {
		sep = "; "
	}
	workers := fmt.Sprintf("%d polling", len(st.Workers))
	if len(st.Workers) == 0 {
		workers = "none polling: queued tasks wait (start one with `baton worker run -- CMD`)"
	} else {
		ids := make([]string, 0, len(st.Workers))
		for _, w := range st.Workers {
			ids = append(ids, w.ID)
		}
		workers += " (" + strings.Join(ids, ", ") + ")"
	}
	alerts := "none open"
	if n := len(st.OpenAlerts); n > 0 {
		lines := []string{fmt.Sprintf("%d open (ack with `baton alerts ack ID`)", n)}
		for _, a := range st.OpenAlerts {
			msg := a.Message
			if room := width - len("WORKSPACE  ") - len(a.ID) - 2; human && twwidth.Width(msg) > room {
				msg = twwidth.Truncate(msg, max(room-1, 0)) + "…"
			}
			lines = append(lines, a.ID+"  "+msg)
		}
		alerts = strings.Join(lines, sep)
	}
	tasks := fmt.Sprintf("%s running, %s queued, %s held", tf.Int(q.Running), tf.Int(q.Queued), tf.Int(q.Held))
	if q.Held > 0 {
		tasks += " (a quota is used up: " + strings.Join(q.Exceeded, ", ") + ")"
	}
	return [][2]string{
		{"workspace", ws},
		{"period", fmt.Sprintf("%s, resets in %s", q.Period, usage.Approx(q.ResetsIn))},
		{"quota", strings.Join(quota, sep)},
		{"tasks", tasks},
		{"workers", workers},
		{"alerts", alerts},
	}
}
