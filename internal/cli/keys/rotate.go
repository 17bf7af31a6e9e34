package keys

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// RotateOptions are the inputs of `baton keys rotate`.
type RotateOptions struct {
	Factory *cmdutil.Factory
	ID      string
	// Grace is how long the old secret keeps working ("" is the server's
	// default, 24h).
	Grace string
}

// NewCmdRotate returns `baton keys rotate ID`. runF replaces the run logic
// in tests (nil: runRotate).
func NewCmdRotate(f *cmdutil.Factory, runF func(context.Context, *RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "rotate ID [--grace 24h]",
		Short: "Give an API key a new secret (shown once)",
		Long: `Give an API key a new secret, printed this once, keeping its id, name and
scopes. The old secret keeps working for --grace (default 24h, at most 30d;
0s ends it at once), so programs can switch over. Never asks for
confirmation.`,
		Example: `  baton keys rotate key_01jd… --grace 1h
  baton keys rotate key_01jd… --grace 0s -o json | jq -r .secret`,
		Args:              cmdutil.ExactArgs(1, "key id"),
		ValidArgsFunction: completeIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if cmd.Flags().Changed("grace") {
				if _, err := api.ParseDuration(opts.Grace); err != nil {
					return cmdutil.FlagErrorf("--grace: %v", err)
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRotate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Grace, "grace", "", "how long the old secret keeps working, e.g. 24h or 0s (default 24h)")
	_ = cmd.RegisterFlagCompletionFunc("grace", cobra.FixedCompletions([]string{"0s", "1h", "24h", "7d"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runRotate rotates the key and prints it with its new secret. Errors:
// cmdutil.ErrNotLoggedIn, the server's *APIError (not_found: exit 3,
// conflict for a revoked key, validation_failed for a grace over 30d).
func runRotate(ctx context.Context, opts *RotateOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	k, err := c.RotateKey(ctx, opts.ID, api.RotateKeyRequest{Grace: opts.Grace})
	if err != nil {
		return err
	}
	now := f.Now()
	if err := p.PrintObject(k, func(tf output.TimeFormatter) [][2]string { return fields(k, now, tf) }); err != nil {
		return err
	}
	f.Infof("Rotated key %s. The new secret is shown only this once: store it now.", k.ID)
	if t := k.PreviousExpiresAt; t != nil && t.After(now) {
		f.Infof("The old secret keeps working until %s.", t.UTC().Format(time.RFC3339))
	} else {
		f.Infof("The old secret has stopped working.")
	}
	return nil
}
