// Package admin is `baton admin`: the operator's views across workspaces,
// revenue against cost (costs) and usage against quota (usage). Both need
// an operator (admin) key.
package admin

import (
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
)

// NewCmdAdmin returns the `baton admin` group.
func NewCmdAdmin(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin <command>",
		Short: "Operator views across workspaces: costs and margins, usage against quota",
		Long: `Operator views across every workspace: revenue, cost and margin for a billing
period (costs), and every workspace's usage against its quota (usage). They
need an operator key (bak_…); a workspace key gets exit 4.`,
	}
	cmd.AddCommand(NewCmdCosts(f, nil), NewCmdUsage(f, nil))
	return cmd
}
