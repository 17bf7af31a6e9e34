package tasks

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// CancelOptions are the inputs of `baton tasks cancel`.
type CancelOptions struct {
	Factory *cmdutil.Factory
	ID      string
}

// NewCmdCancel returns `baton tasks cancel ID`. runF replaces the run logic
// in tests (nil: runCancel).
func NewCmdCancel(f *cmdutil.Factory, runF func(context.Context, *CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{Factory: f}
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running task",
		Long: `Cancel a queued or running task and print it. A running task's worker is
told to stop it at its next heartbeat (within seconds). Never asks for
confirmation. A task that has already ended cannot be cancelled (exit 1).`,
		Example:           `  baton tasks cancel task_01jd…`,
		Args:              cmdutil.ExactArgs(1, "task id"),
		ValidArgsFunction: completeIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCancel(cmd.Context(), opts)
		},
	}
}

// runCancel cancels the task and prints it. Errors: cmdutil.ErrNotLoggedIn,
// the server's *APIError (not_found: exit 3; conflict when the task already
// ended: exit 1), printer errors.
func runCancel(ctx context.Context, opts *CancelOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	t, err := c.CancelTask(ctx, opts.ID)
	if err != nil {
		return err
	}
	now := f.Now()
	if err := p.PrintObject(t, func(tf output.TimeFormatter) [][2]string { return fields(t, now, tf) }); err != nil {
		return err
	}
	f.Infof("Cancelled task %s.", t.ID)
	return nil
}
