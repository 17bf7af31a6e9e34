package authcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/config"
)

// LogoutOptions are the inputs of `baton logout`.
type LogoutOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdLogout returns `baton logout`. runF replaces the run logic in tests
// (nil: runLogout).
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *LogoutOptions) error) *cobra.Command {
	opts := &LogoutOptions{Factory: f}
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove the API key from a profile",
		Long: `Remove the API key from the profile in use (--profile, else BATON_PROFILE,
else the current profile). The profile and its server stay, so baton login
--profile NAME logs in again. The key itself keeps working: revoke it with
baton keys revoke. Logging out of a profile without a key is not an error.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLogout(cmd.Context(), opts)
		},
	}
}

// logoutResult is what `logout -o json` prints.
type logoutResult struct {
	Profile   string `json:"profile"`
	LoggedOut bool   `json:"logged_out"`
}

// runLogout removes the key. Errors: config file errors.
func runLogout(_ context.Context, opts *LogoutOptions) error {
	f := opts.Factory
	p, err := f.Printer()
	if err != nil {
		return err
	}
	r, err := f.Resolved()
	if err != nil {
		return err
	}
	file, path, err := f.Config()
	if err != nil {
		return err
	}
	res := logoutResult{Profile: r.Profile}
	prof, ok := file.Profiles[r.Profile]
	if !ok || prof.APIKey == "" {
		f.Infof("Not logged in: profile %q has no saved API key; nothing to do.", r.Profile)
	} else {
		prof.APIKey = ""
		file.Profiles[r.Profile] = prof
		if err := file.Save(path); err != nil {
			return fmt.Errorf("logout: %w", err)
		}
		res.LoggedOut = true
		f.Infof("Logged out of profile %q (%s): its API key is removed, the server is kept.", r.Profile, prof.Server)
	}
	if f.Getenv(config.EnvAPIKey) != "" {
		f.Infof("warning: %s is still set in this shell.", config.EnvAPIKey)
	}
	if !f.JSONOutput() {
		return nil
	}
	return p.PrintObject(res, func(output.TimeFormatter) [][2]string { return nil })
}
