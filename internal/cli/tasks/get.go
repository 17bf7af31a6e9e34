package tasks

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// GetOptions are the inputs of `baton tasks get`.
type GetOptions struct {
	Factory *cmdutil.Factory
	ID      string
}

// NewCmdGet returns `baton tasks get ID`. runF replaces the run logic in
// tests (nil: runGet).
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a task with its attempts and usage",
		Long: `Show a task: its state, attempts, usage (execution time, tokens, cost in
USD), error and output (compact and cut short in a table; -o json prints
the whole task with its input, output and attempts).`,
		Example: `  baton tasks get task_01jd…
  baton tasks get task_01jd… -o json | jq .output`,
		Args:              cmdutil.ExactArgs(1, "task id"),
		ValidArgsFunction: completeIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runGet(cmd.Context(), opts)
		},
	}
}

// runGet prints one task. Errors: cmdutil.ErrNotLoggedIn, the server's
// *APIError (not_found: exit 3), printer errors.
func runGet(ctx context.Context, opts *GetOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	t, err := c.GetTask(ctx, opts.ID)
	if err != nil {
		return err
	}
	now := f.Now()
	return p.PrintObject(t, func(tf output.TimeFormatter) [][2]string { return fields(t, now, tf) })
}
