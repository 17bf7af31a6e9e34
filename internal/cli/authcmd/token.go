package authcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// TokenOptions are the inputs of `baton auth token`.
type TokenOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdToken returns `baton auth token`. runF replaces the run logic in
// tests (nil: runToken).
func NewCmdToken(f *cmdutil.Factory, runF func(context.Context, *TokenOptions) error) *cobra.Command {
	opts := &TokenOptions{Factory: f}
	return &cobra.Command{
		Use:   "token",
		Short: "Mint a 15-minute session token from the API key",
		Long: `Exchange the API key in use for a session token (a JWT valid for 15 minutes,
never longer than the key), usable wherever the key is: Authorization:
Bearer TOKEN. Prints just the token; -o json prints {token, expires_at}.`,
		Example: `  curl -H "Authorization: Bearer $(baton auth token)" "$BATON_SERVER/v1/me"`,
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runToken(cmd.Context(), opts)
		},
	}
}

// runToken mints and prints a token. Errors: cmdutil.ErrNotLoggedIn, the
// server's *APIError, printer errors.
func runToken(ctx context.Context, opts *TokenOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	if p.Format() == output.FormatTable {
		_, err = fmt.Fprintln(f.IOStreams.Out, tok.Token)
		return err
	}
	return p.PrintObject(tok, func(tf output.TimeFormatter) [][2]string {
		return [][2]string{{"token", tok.Token}, {"expires_at", tf.Time(tok.ExpiresAt)}}
	})
}
