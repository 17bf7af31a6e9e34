package profile

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// ShowOptions are the inputs of `baton profile show`.
type ShowOptions struct {
	Factory *cmdutil.Factory
	// Name is the profile to show; "" is the one in use.
	Name string
}

// NewCmdShow returns `baton profile show [NAME]`. runF replaces the run
// logic in tests (nil: runShow).
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{Factory: f}
	return &cobra.Command{
		Use:   "show [NAME]",
		Short: "Show a profile (the one in use by default)",
		Long: `Show a profile: its server, workspace, and the public prefix of its API key
(never the key itself). Without NAME, the profile in use: --profile, else
BATON_PROFILE, else the config file's current profile.`,
		Example: `  baton profile show
  baton profile show prod -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cmdutil.FlagErrorf("too many arguments: %q\n\nUsage: %s", args[1:], cmd.UseLine())
			}
			return nil
		},
		ValidArgsFunction: completeFirstArg(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runShow(cmd.Context(), opts)
		},
	}
}

// showView is the JSON form of `profile show`.
type showView struct {
	view
	ConfigPath string `json:"config_path"`
}

// runShow prints one profile. Errors: an unknown profile (exit 1, with a
// hint), config file errors, printer errors.
func runShow(_ context.Context, opts *ShowOptions) error {
	f := opts.Factory
	p, err := f.Printer()
	if err != nil {
		return err
	}
	file, path, err := f.Config()
	if err != nil {
		return err
	}
	current := currentName(f, file)
	name := opts.Name
	if name == "" {
		name = current
	}
	prof, ok := file.Profiles[name]
	if !ok {
		return unknownProfile(file, name)
	}
	v := showView{view: view{Name: name, Server: prof.Server, Workspace: prof.Workspace, KeyPrefix: Redact(prof.APIKey), Current: name == current}, ConfigPath: path}
	return p.PrintObject(v, func(output.TimeFormatter) [][2]string {
		return [][2]string{{"name", v.Name}, {"server", v.Server}, {"workspace", v.Workspace}, {"key", v.KeyPrefix},
			{"current", yesNo(v.Current)}, {"config", v.ConfigPath}}
	})
}
