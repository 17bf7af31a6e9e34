package workspaces

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// CreateOptions are the inputs of `baton workspaces create`.
type CreateOptions struct {
	Factory *cmdutil.Factory
	Name    string
	Tier    string
}

// NewCmdCreate returns `baton workspaces create NAME`. runF replaces the run
// logic in tests (nil: runCreate).
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "create NAME [--tier T]",
		Short: "Create a workspace and its first API key",
		Long: `Create a workspace (operator key needed) and its first API key, with scope
"*". The key's secret is printed this once: hand it to the tenant or store
it now. NAME is 1-63 characters of a-z, 0-9, '.', '_' and '-'. Without
--tier the server's default tier applies.

-o json prints {"workspace": {…}, "key": {…, "secret": "bk_…"}}.`,
		Example: `  baton workspaces create acme --tier pro
  baton workspaces create acme -o json | jq -r .key.secret | baton login --with-token --profile acme`,
		Args: cmdutil.ExactArgs(1, "workspace name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if strings.TrimSpace(opts.Name) == "" {
				return cmdutil.FlagErrorf("the workspace name must not be empty")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCreate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Tier, "tier", "", "tier of the workspace (default: the server's default tier)")
	_ = cmd.RegisterFlagCompletionFunc("tier", tiers.CompleteNames(f))
	return cmd
}

// runCreate creates the workspace and prints it with the key's secret.
// Errors: cmdutil.ErrNotLoggedIn, the server's *APIError (forbidden without
// an operator key, validation_failed, conflict for a taken name).
func runCreate(ctx context.Context, opts *CreateOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	res, err := c.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: opts.Name, Tier: opts.Tier})
	if err != nil {
		return err
	}
	if err := p.PrintObject(res, func(tf output.TimeFormatter) [][2]string {
		w, k := res.Workspace, res.Key
		return [][2]string{{"id", w.ID}, {"name", w.Name}, {"tier", w.Tier}, {"status", w.Status}, {"created", tf.Time(w.CreatedAt)},
			{"key_id", k.ID}, {"key_scopes", strings.Join(k.Scopes, ", ")}, {"key_secret", k.Secret}}
	}); err != nil {
		return err
	}
	f.Infof("Created workspace %s (%s). The key's secret is shown only this once: store it now.", res.Workspace.Name, res.Workspace.ID)
	return nil
}
