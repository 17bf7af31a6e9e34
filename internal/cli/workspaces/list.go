package workspaces

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// ListOptions are the inputs of `baton workspaces list`.
type ListOptions struct {
	Factory *cmdutil.Factory
	// Limit is the page size, 1 to 100.
	Limit int
	// All fetches every page.
	All bool
}

// NewCmdList returns `baton workspaces list`. runF replaces the run logic in
// tests (nil: runList).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "list [--limit N] [--all]",
		Short: "List workspaces",
		Long: `List workspaces (operator key needed), oldest first: the first page of
--limit workspaces, or every page with --all (then --limit is the page size).
-o json prints a JSON array of workspace objects.`,
		Example: `  baton workspaces list --all
  baton workspaces list --all -o json | jq -r '.[] | select(.status == "suspended") .id'`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 || opts.Limit > 100 {
				return cmdutil.FlagErrorf("--limit must be between 1 and 100, not %d", opts.Limit)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 20, "workspaces per page (1-100)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "list every workspace, fetching every page")
	return cmd
}

// clientList is the client's options for a first page of limit items.
func clientList(limit int) client.ListOptions { return client.ListOptions{Limit: limit} }

// runList prints the workspaces. Errors: cmdutil.ErrNotLoggedIn, the
// server's *APIError (forbidden without an operator key), printer errors.
func runList(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	ws, more, err := cmdutil.CollectList(opts.All, c.AllWorkspaces(ctx, opts.Limit),
		func() (api.List[api.Workspace], error) { return c.ListWorkspaces(ctx, clientList(opts.Limit)) })
	if err != nil {
		return err
	}
	defer f.HintMore(more, "workspace")
	return p.Print(ws, func(tf output.TimeFormatter) output.Table { return table(ws, tf) })
}
