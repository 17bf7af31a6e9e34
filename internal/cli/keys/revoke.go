package keys

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// RevokeOptions are the inputs of `baton keys revoke`.
type RevokeOptions struct {
	Factory *cmdutil.Factory
	ID      string
	// Yes skips the confirmation prompt.
	Yes bool
}

// NewCmdRevoke returns `baton keys revoke ID`. runF replaces the run logic
// in tests (nil: runRevoke).
func NewCmdRevoke(f *cmdutil.Factory, runF func(context.Context, *RevokeOptions) error) *cobra.Command {
	opts := &RevokeOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "revoke ID [--yes]",
		Short: "Revoke an API key at once",
		Long: `Revoke an API key: it stops working at once on this server (within 5
seconds on every replica). This cannot be undone. On a terminal it asks
first unless --yes; without a terminal --yes is required.

Prints "Revoked key ID" on standard error; -o json prints the revoked key.`,
		Example:           `  baton keys revoke key_01jd… --yes`,
		Args:              cmdutil.ExactArgs(1, "key id"),
		ValidArgsFunction: completeIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required to revoke a key when not running on a terminal")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRevoke(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation")
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
