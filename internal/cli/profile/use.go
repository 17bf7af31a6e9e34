package profile

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/config"
)

// UseOptions are the inputs of `baton profile use`.
type UseOptions struct {
	Factory *cmdutil.Factory
	Name    string
}

// NewCmdUse returns `baton profile use NAME`. runF replaces the run logic in
// tests (nil: runUse).
func NewCmdUse(f *cmdutil.Factory, runF func(context.Context, *UseOptions) error) *cobra.Command {
	opts := &UseOptions{Factory: f}
	return &cobra.Command{
		Use:   "use NAME",
		Short: "Make a profile the default",
		Long: `Make NAME the config file's current profile, used by every command that gets
no --profile and no BATON_PROFILE. The profile must exist: create it with
baton login --profile NAME.`,
		Example:           `  baton profile use prod`,
		Args:              cmdutil.ExactArgs(1, "profile name"),
		ValidArgsFunction: completeFirstArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUse(cmd.Context(), opts)
		},
	}
}

// runUse switches the current profile. Errors: an unknown profile (exit 1,
// with a hint naming the known ones), config file errors.
func runUse(_ context.Context, opts *UseOptions) error {
	f := opts.Factory
	file, path, err := f.Config()
	if err != nil {
		return err
	}
	p, ok := file.Profiles[opts.Name]
	if !ok {
		return unknownProfile(file, opts.Name)
	}
	file.CurrentProfile = opts.Name
	if err := file.Save(path); err != nil {
		return fmt.Errorf("use profile %s: %w", opts.Name, err)
	}
	f.Infof("Now using profile %q (%s).", opts.Name, p.Server)
	if env := f.Getenv(config.EnvProfile); env != "" && env != opts.Name {
		f.Infof("warning: %s=%s is set and takes precedence in this shell.", config.EnvProfile, env)
	}
	return nil
}

// unknownProfile is the error for a profile name that is not in file.
func unknownProfile(file *config.File, name string) error {
	hint := "create it with `baton login --profile " + name + "`"
	if names := file.ProfileNames(); len(names) > 0 {
		hint = "known profiles: " + strings.Join(names, ", ") + "; or " + hint
	}
	return cmdutil.WithHint(fmt.Errorf("no profile named %q", name), hint)
}
