// Package worker is `baton worker`: the supervisor that runs tasks on this
// machine (internal/supervisor does the work).
package worker

import (
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
)

// NewCmdWorker returns `baton worker` with its subcommand `run`.
func NewCmdWorker(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker <command>",
		Short: "Run tasks on this machine",
		Long: `Run tasks on this machine: ` + "`baton worker run -- CMD`" + ` claims tasks from the
server and runs CMD once per task. See ` + "`baton worker run --help`" + ` for the agent
protocol.`,
	}
	cmd.AddCommand(NewCmdRun(f, nil))
	return cmd
}
