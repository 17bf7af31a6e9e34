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
	// Force replaces the key of an existing profile without asking.
	Force bool
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
else the profile's server, else the current profile's server (a new
profile is for the same server unless told otherwise), else
` + config.DefaultServer + `. The profile is --profile, else BATON_PROFILE, else
the current profile, else "default". --workspace is saved too (for operator
keys). A key the server refuses is not saved (exit 4).

A profile that holds another key is not replaced silently: on a terminal
login asks first, otherwise it refuses unless --force (or --profile names
the profile to replace). Save a second key with --profile NAME.`,
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
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace the key of an existing profile without asking")
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
	file, path, err := f.Config()
	if err != nil {
		return err
	}
	server := loginServer(file, r)
	c, err := f.ClientFor(server, key, "")
	if err != nil {
		return err
	}
	me, err := c.Me(ctx)
	if err != nil {
		return cmdutil.WithHint(fmt.Errorf("login to %s: %w", server, err), "check that the key is complete and not revoked; nothing was saved")
	}
	old, exists := file.Profiles[r.Profile]
	if exists && old.APIKey != "" && old.APIKey != key {
		if err := confirmReplace(f, opts, r, old); err != nil {
			return err
		}
	}
	previous := file.CurrentProfile
	prof := config.Profile{Name: r.Profile, Server: server, APIKey: key, Workspace: f.Globals.Workspace}
	if err := file.SetProfile(prof); err != nil {
		return err
	}
	file.CurrentProfile = r.Profile
	if err := file.Save(path); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	f.Infof("Logged in to %s as %s.", server, describe(me))
	switch {
	case exists && old.APIKey != key:
		f.Infof("Replaced the key of profile %q (%s); it is the current profile.", r.Profile, path)
	default:
		f.Infof("Saved in profile %q (%s); it is the current profile.", r.Profile, path)
	}
	if previous != "" && previous != r.Profile {
		f.Infof("Switch back with `baton profile use %s`.", previous)
	}
	if f.Getenv(config.EnvAPIKey) != "" {
		f.Infof("warning: %s is set and takes precedence over the saved key in this shell.", config.EnvAPIKey)
	}
	if f.Getenv(config.EnvProfile) != "" && f.Getenv(config.EnvProfile) != r.Profile {
		f.Infof("warning: %s=%s is set and selects that profile in this shell.", config.EnvProfile, f.Getenv(config.EnvProfile))
	}
	if p.Format() == output.FormatTable {
		return nil
	}
	return p.PrintObject(me, func(tf output.TimeFormatter) [][2]string { return meFields(me, tf) })
}

// loginServer is the server a login goes to: the resolved one, unless it
// is only the default and the profile is new, when the current profile's
// server is meant (`login --with-token --profile ci` next to a dev server).
func loginServer(file *config.File, r config.Resolved) string {
	if r.Source["server"] != config.SourceDefault {
		return r.Server
	}
	if cur, ok := file.Profiles[file.CurrentProfile]; ok && cur.Server != "" {
		return cur.Server
	}
	return r.Server
}

// confirmReplace lets a login replace the key of profile old: with
// --force or a profile named explicitly (--profile, BATON_PROFILE) it says
// so; otherwise it asks on a terminal and refuses without one.
func confirmReplace(f *cmdutil.Factory, opts *LoginOptions, r config.Resolved, old config.Profile) error {
	if opts.Force || r.Source["profile"] == config.SourceFlag || r.Source["profile"] == config.SourceEnv {
		return nil
	}
	what := fmt.Sprintf("profile %q already holds a key for %s", r.Profile, old.Server)
	hint := fmt.Sprintf("save this key in another profile with --profile NAME, or replace it with --force (or --profile %s)", r.Profile)
	if !f.IOStreams.CanPrompt() {
		return cmdutil.WithHint(&cmdutil.FlagError{Err: fmt.Errorf("%s; not replaced", what)}, hint)
	}
	ok, err := f.IOStreams.Confirm(fmt.Sprintf("The %s. Replace it?", what))
	if err != nil {
		return err
	}
	if !ok {
		return cmdutil.WithHint(&cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errors.New("cancelled: the profile was not changed")}, hint)
	}
	return nil
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
