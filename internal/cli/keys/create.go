package keys

import (
	"context"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// CreateOptions are the inputs of `baton keys create`.
type CreateOptions struct {
	Factory   *cmdutil.Factory
	Name      string
	Scopes    []string
	ExpiresIn string
}

// NewCmdCreate returns `baton keys create`. runF replaces the run logic in
// tests (nil: runCreate).
func NewCmdCreate(f *cmdutil.Factory, runF func(context.Context, *CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "create [--name N] [--scope S]... [--expires-in 90d]",
		Short: "Create an API key (its secret is shown once)",
		Long: `Create an API key in your workspace and print it with its secret, which is
shown only this once.

Scopes: keys:read, keys:write, tasks:read, tasks:write, usage:read, worker,
and '*' for all of them. A key can grant only scopes it holds itself.

At least one --scope is required, with one exception: an operator key
(bak_…) without --workspace creates another operator key, whose scope is
"admin" unless --scope worker:all makes it a shared worker's key (the
worker routes on every workspace, nothing else), so --scope may be left
out then. The rule is checked
locally from the key's bak_ prefix; the server checks the scopes either way.

--expires-in takes days (90d) or a Go duration (12h, 30m); without it the
key never expires.`,
		Example: `  baton keys create --name ci --scope tasks:write --scope tasks:read --expires-in 90d
  baton keys create --name worker --scope worker -o json | jq -r .secret
  baton keys create --name shared-worker --scope worker:all   # operator key, no --workspace`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.ExpiresIn != "" {
				if _, err := api.ParseDuration(opts.ExpiresIn); err != nil {
					return cmdutil.FlagErrorf("--expires-in: %v", err)
				}
			}
			for _, s := range opts.Scopes {
				if strings.TrimSpace(s) == "" {
					return cmdutil.FlagErrorf("--scope must not be empty")
				}
				if !slices.Contains(api.OperatorScopes, s) && !slices.Contains(api.WorkspaceScopes, s) {
					return cmdutil.FlagErrorf("--scope: unknown scope %q: valid scopes are %s, and for operator keys %s", s,
						strings.Join(api.WorkspaceScopes, ", "), strings.Join(api.OperatorScopes, ", "))
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCreate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "name of the key (default \"unnamed\")")
	fl.StringSliceVar(&opts.Scopes, "scope", nil, "scope to grant (repeatable, or comma-separated)")
	fl.StringVar(&opts.ExpiresIn, "expires-in", "", "lifetime, e.g. 90d or 12h (default: never expires)")
	_ = cmd.RegisterFlagCompletionFunc("scope", cobra.FixedCompletions(append(slices.Clone(api.WorkspaceScopes), api.OperatorScopes...), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("expires-in", cobra.FixedCompletions([]string{"30d", "90d", "365d", "24h"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runCreate creates the key and prints it with its secret. Errors:
// cmdutil.ErrNotLoggedIn, a FlagError for a workspace key without --scope,
// the server's *APIError (validation_failed for scopes the caller lacks).
func runCreate(ctx context.Context, opts *CreateOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	if len(opts.Scopes) == 0 {
		r, err := f.Resolved()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(r.APIKey, "bak_") || r.Workspace != "" {
			return cmdutil.FlagErrorf("at least one --scope is required (e.g. --scope tasks:write; '*' for all)")
		}
	}
	k, err := c.CreateKey(ctx, api.CreateKeyRequest{Name: opts.Name, Scopes: opts.Scopes, ExpiresIn: opts.ExpiresIn})
	if err != nil {
		return err
	}
	now := f.Now()
	if err := p.PrintObject(k, func(tf output.TimeFormatter) [][2]string { return fields(k, now, tf) }); err != nil {
		return err
	}
	f.Infof("Created key %s (%s). Its secret is shown only this once: store it now.", k.Name, k.ID)
	return nil
}
