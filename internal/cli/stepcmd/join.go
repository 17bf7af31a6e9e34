package stepcmd

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/api"
)

// JoinOptions are `baton step join`'s arguments.
type JoinOptions struct {
	Key string
	IDs []string
}

// NewCmdJoin returns `baton step join KEY CHILD_ID...`.
func NewCmdJoin(f *cmdutil.Factory, runF func(context.Context, *JoinOptions) error) *cobra.Command {
	opts := &JoinOptions{}
	return &cobra.Command{
		Use:   "join KEY CHILD_ID...",
		Short: "Wait for child tasks spawned without --wait; print how each ended",
		Long: `Join a fan-out: wait for the end of each child task CHILD_ID (spawned without
--wait, so that they run in parallel) and print how each ended, in order, as
one JSON array of {"task_id", "status", "output", "error"}. Each child is a
wait step KEY/CHILD_ID for the signal child:CHILD_ID that the server sends
this task, once, when the child ends; while a child runs the task waits
without a worker (exit 75: exit too) and a later attempt replays to here,
every child that ended answering at once. A child that failed is an outcome
in the array (exit 0), not an error.`,
		Example: `  ids=""; for p in 1 2 3; do ids="$ids $(baton step spawn "page-$p" --input "{\"page\": $p}")"; done
  pages=$(baton step join pages $ids)`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return cmdutil.FlagErrorf("missing step KEY and at least one CHILD_ID\n\nUsage: %s", cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Key, opts.IDs = args[0], args[1:]
			if err := checkKey(opts.Key); err != nil {
				return err
			}
			for _, id := range opts.IDs {
				if n := len(api.ChildSignal(id)); id == "" || n > api.MaxSignalNameLen {
					return cmdutil.FlagErrorf("CHILD_ID %q: 1 to %d characters", id, api.MaxSignalNameLen-len(api.ChildSignalPrefix))
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			c, err := client(f)
			if err != nil {
				return err
			}
			children, err := c.Join(cmd.Context(), opts.Key, opts.IDs...)
			if err != nil {
				return suspended(f, err)
			}
			out, err := json.Marshal(children)
			if err != nil {
				return fail(fmt.Errorf("join %s: %w", opts.Key, err))
			}
			return printResult(f, result{Key: opts.Key, Action: "done", Output: out}, jsonLine(out))
		},
	}
}
