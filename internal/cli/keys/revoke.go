package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// RevokeOptions are the inputs of `baton keys revoke`.
type RevokeOptions struct {
	Factory *cmdutil.Factory
	ID      string
	// All revokes every active key of the workspace instead of ID
	// (incident response).
	All bool
	// Yes skips the confirmation prompt.
	Yes bool
}

// NewCmdRevoke returns `baton keys revoke ID`. runF replaces the run logic
// in tests (nil: runRevoke).
func NewCmdRevoke(f *cmdutil.Factory, runF func(context.Context, *RevokeOptions) error) *cobra.Command {
	opts := &RevokeOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "revoke (ID | --all) [--yes]",
		Short: "Revoke an API key, or every key of a workspace, at once",
		Long: `Revoke an API key: it stops working at once on this server (within 5
seconds on every replica). This cannot be undone. On a terminal it asks
first unless --yes; without a terminal --yes is required.

--all revokes every active key of the workspace (for a leaked key whose
id you do not know, or a compromised tenant): with an operator key, name
the workspace with --workspace; with the workspace's own key, that key is
revoked last, so the rest go even if it is among them.

Prints "Revoked key ID" on standard error; -o json prints the revoked key
(with --all, the revoked keys); -q with --all prints their ids.`,
		Example: `  baton keys revoke key_01jd… --yes
  baton keys revoke --all --workspace ws_01jd… --yes   # incident response`,
		Args: func(cmd *cobra.Command, args []string) error {
			if opts.All {
				return cmdutil.NoArgs(cmd, args)
			}
			return cmdutil.ExactArgs(1, "key id (or --all)")(cmd, args)
		},
		ValidArgsFunction: completeIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !opts.All {
				opts.ID = args[0]
			}
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required to revoke a key when not running on a terminal")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.All {
				return runRevokeAll(cmd.Context(), opts)
			}
			return runRevoke(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&opts.All, "all", false, "revoke every active key of the workspace")
	return cmd
}

// runRevoke asks (unless --yes), revokes and reports. Errors: a declined
// prompt (exit 1, nothing revoked), cmdutil.ErrNotLoggedIn, the server's
// *APIError (not_found: exit 3).
func runRevoke(ctx context.Context, opts *RevokeOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	// Name the key, and say when it is the one this CLI is using: revoking
	// it locks this profile out. Both are best effort.
	what := "key " + opts.ID
	if k, err := c.GetKey(ctx, opts.ID); err == nil && k.Name != "" {
		what = fmt.Sprintf("key %s (%s)", k.Name, k.ID)
	}
	inUse := false
	if me, err := c.Me(ctx); err == nil && me.Key.ID == opts.ID {
		inUse = true
		f.Warnf("%s is the key this CLI is using: once revoked, this profile cannot call the server (log in again with another key)", what)
	}
	if !opts.Yes {
		question := fmt.Sprintf("Revoke %s? Programs using it stop working at once.", what)
		if inUse {
			question = fmt.Sprintf("Revoke %s, the key you are using now?", what)
		}
		ok, err := f.IOStreams.Confirm(question)
		if err != nil {
			return err
		}
		if !ok {
			return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("cancelled: the key was not revoked")}
		}
	}
	k, err := c.RevokeKey(ctx, opts.ID)
	if err != nil {
		return err
	}
	f.Infof("Revoked %s", what)
	if !f.JSONOutput() {
		return nil
	}
	now := f.Now()
	return p.PrintObject(k, func(tf output.TimeFormatter) [][2]string { return fields(k, now, tf) })
}

// runRevokeAll revokes every active key of the workspace, the caller's own
// last, and reports. Errors: a declined prompt (exit 1, nothing revoked),
// the server's *APIError (the first failure stops it; what was revoked
// before stays revoked and is reported).
func runRevokeAll(ctx context.Context, opts *RevokeOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return err
	}
	if me.Workspace == nil {
		return cmdutil.FlagErrorf("--all revokes one workspace's keys: name it with --workspace ws_…")
	}
	now := f.Now()
	var active []api.Key
	own := -1
	for k, err := range c.AllKeys(ctx, 100) {
		if err != nil {
			return err
		}
		if k.RevokedAt != nil || (k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)) {
			continue
		}
		if k.ID == me.Key.ID {
			own = len(active)
		}
		active = append(active, k)
	}
	if own >= 0 { // the caller's own key goes last, or the rest could not follow
		active = append(append(active[:own:own], active[own+1:]...), active[own])
	}
	what := fmt.Sprintf("workspace %s (%s)", me.Workspace.Name, me.Workspace.ID)
	if len(active) == 0 {
		f.Infof("No active keys in %s", what)
		return p.Print([]api.Key{}, func(tf output.TimeFormatter) output.Table { return table(nil, now, tf) })
	}
	if own >= 0 {
		f.Warnf("the key this CLI is using is among them: once revoked, this profile cannot call the server")
	}
	if !opts.Yes {
		ok, err := f.IOStreams.Confirm(fmt.Sprintf("Revoke all %d active keys of %s? Every program using them stops working at once.", len(active), what))
		if err != nil {
			return err
		}
		if !ok {
			return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("cancelled: no key was revoked")}
		}
	}
	revoked := make([]api.Key, 0, len(active))
	for _, k := range active {
		rk, err := c.RevokeKey(ctx, k.ID)
		if err != nil {
			f.Infof("Revoked %d of %d keys of %s before the error", len(revoked), len(active), what)
			return err
		}
		revoked = append(revoked, rk)
	}
	f.Infof("Revoked %d keys of %s", len(revoked), what)
	return p.Print(revoked, func(tf output.TimeFormatter) output.Table { return table(revoked, now, tf) })
}
