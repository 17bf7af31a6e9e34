package keys

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// GetOptions are the inputs of `baton keys get`.
type GetOptions struct {
	Factory *cmdutil.Factory
	ID      string
}

// NewCmdGet returns `baton keys get ID`. runF replaces the run logic in
// tests (nil: runGet).
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	return &cobra.Command{
		Use:               "get ID",
		Short:             "Show an API key (never its secret)",
		Example:           `  baton keys get key_01jd…`,
		Args:              cmdutil.ExactArgs(1, "key id"),
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

// runGet prints one key. Errors: cmdutil.ErrNotLoggedIn, the server's
// *APIError (not_found: exit 3), printer errors.
func runGet(ctx context.Context, opts *GetOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	k, err := c.GetKey(ctx, opts.ID)
	if err != nil {
		return err
	}
	now := f.Now()
	return p.PrintObject(k, func(tf output.TimeFormatter) [][2]string { return fields(k, now, tf) })
}
