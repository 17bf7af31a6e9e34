// Package authcmd is `baton login`, `baton logout` and `baton auth`
// (status, token): getting an API key into a profile, checking it, and
// minting session tokens from it.
package authcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// LoginOptions are the inputs of `baton login`.
type LoginOptions struct {
	Factory *cmdutil.Factory
	// WithToken reads the key from standard input.
	WithToken bool
	// Key is the key read from standard input with --with-token; "" means
	// ask for it at a prompt.
	Key string
}

// NewCmdLogin returns `baton login`. runF replaces the run logic in tests
// (nil: runLogin).
func NewCmdLogin(f *cmdutil.Factory, runF func(context.Context, *LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "login [--server URL] [--with-token]",
		Short: "Save an API key for a server in a profile",
		Long: `Check an API key against the server (GET /v1/me), then save the server and
the key in a profile and make it the current one.

The key is read from standard input with --with-token, or asked for at a
prompt (not echoed) on a terminal. The server is --server, else BATON_SERVER,
else the profile's server, else ` + config.DefaultServer + `. The profile is
--profile, else BATON_PROFILE, else the current profile, else "default".
--workspace is saved too (for operator keys). A key the server refuses is
not saved (exit 4).`,
		Example: `  baton login --server https://baton.example.com
  echo "$BATON_KEY" | baton login --with-token --profile ci`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.WithToken {
				key, err := readKey(f.IOStreams.In)
				if err != nil {
					return err
				}
				opts.Key = key
			} else if !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("no terminal to ask for the key: pass it on standard input with --with-token, e.g. `echo \"$KEY\" | baton login --with-token`")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLogin(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.WithToken, "with-token", false, "read the API key from standard input")
	return cmd
}

// readKey reads one line from r: the key for --with-token. Error: a
// FlagError when r is empty.
func readKey(r io.Reader) (string, error) {
	var line strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			line.WriteByte(buf[0])
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read key from standard input: %w", err)
		}
	}
	key := strings.TrimSpace(line.String())
	if key == "" {
		return "", cmdutil.FlagErrorf("--with-token: no API key on standard input")
	}
	return key, nil
}

// runLogin checks the key and saves it. Errors: the server's *APIError (a
// refused key is unauthenticated: exit 4), config and printer errors.
func runLogin(ctx context.Context, opts *LoginOptions) error {
	f := opts.Factory
	p, err := f.Printer()
	if err != nil {
		return err
	}
	r, err := f.Resolved()
	if err != nil {
		return err
	}
	key := opts.Key
	if key == "" {
		if key, err = f.IOStreams.ReadSecret("Paste your API key (bk_… or bak_…): "); err != nil {
			return fmt.Errorf("read API key: %w", err)
		}
		if key == "" {
			return errors.New("no API key given")
		}
	}
	c, err := f.ClientFor(r.Server, key, "")
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("login to %s: %w", r.Server, err), "check that the key is complete and not revoked; nothing was saved")
	}
	file, path, err := f.Config()
	if err != nil {
		return err
	}
	prof := config.Profile{Name: r.Profile, Server: r.Server, APIKey: key, Workspace: f.Globals.Workspace}
	if err := file.SetProfile(prof); err != nil {
		return err
	}
	file.CurrentProfile = r.Profile
	if err := file.Save(path); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	f.Infof("Logged in to %s as %s.", r.Server, describe(me))
	f.Infof("Saved in profile %q (%s), now the current profile.", r.Profile, path)
	if f.Getenv(config.EnvAPIKey) != "" {
		f.Infof("warning: %s is set and takes precedence over the saved key in this shell.", config.EnvAPIKey)
	}
	if p.Format() == output.FormatTable {
		return nil
	}
	return p.PrintObject(me, func(tf output.TimeFormatter) [][2]string { return meFields(me, tf) })
}

// describe names the caller: "ci (key_…) in workspace acme (ws_…)", or
// "operator key admin (key_…)".
func describe(me api.Me) string {
	who := fmt.Sprintf("%s (%s)", me.Key.Name, me.Key.ID)
	if me.Workspace == nil {
		return "operator key " + who
	}
	return fmt.Sprintf("%s in workspace %s (%s)", who, me.Workspace.Name, me.Workspace.ID)
}
