package workspaces

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// GetOptions are the inputs of `baton workspaces get`.
type GetOptions struct {
	Factory *cmdutil.Factory
	ID      string
}

// NewCmdGet returns `baton workspaces get ID`. runF replaces the run logic
// in tests (nil: runGet).
func NewCmdGet(f *cmdutil.Factory, runF func(context.Context, *GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	return &cobra.Command{
		Use:   "get ID",
		Short: "Show a workspace and its effective limits",
		Long: `Show a workspace: its tier and status, and every effective limit (the tier's
value, or the workspace's override, marked "(override)"). Money is in US
dollars (monthly_spend_usd); with -o json it is monthly_spend_micros.

A workspace key may read its own workspace; other ids need an operator key.`,
		Example:           `  baton workspaces get ws_01jd…`,
		Args:              cmdutil.ExactArgs(1, "workspace id"),
		ValidArgsFunction: completeIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runGet(cmd.Context(), opts)
		},
	}
}

// runGet prints one workspace. Errors: cmdutil.ErrNotLoggedIn, the server's
// *APIError (not_found: exit 3), printer errors.
func runGet(ctx context.Context, opts *GetOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	w, err := c.GetWorkspace(ctx, opts.ID)
	if err != nil {
		return err
	}
	return p.PrintObject(w, func(tf output.TimeFormatter) [][2]string { return fields(w, tf) })
}
