// Package usage is `baton usage`: the workspace's usage over time (report)
// and its use of its limits in the current billing period (quota). Its
// formatting helpers (Quantity, Percent, USD4, Red …) are shared with
// `baton alerts` and `baton admin`.
package usage

import (
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/top"
)

// NewCmdUsage returns the `baton usage` group.
func NewCmdUsage(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "usage <command>",
		Short: "Show usage over time and against the workspace's quota",
		Long: `Show the workspace's usage: per hour or day over a range (report), or against
its limits in the current billing period, a calendar month in UTC (quota).
Needs a key with the usage:read scope; with an operator key, --workspace ID
shows that workspace's usage.`,
	}
	// watch is `baton top` without the screen: it lives with top.
	cmd.AddCommand(NewCmdReport(f, nil), NewCmdQuota(f, nil), top.NewCmdWatch(f))
	return cmd
}
