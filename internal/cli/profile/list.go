package profile

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
)

// ListOptions are the inputs of `baton profile list`.
type ListOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdList returns `baton profile list`. runF replaces the run logic in
// tests (nil: runList).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List the profiles of the config file",
		Long: `List the profiles of the config file: name, server, whether it is the one in
use (CURRENT: --profile, else BATON_PROFILE, else the file's current profile),
and the public prefix of its API key (never the key itself).`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
}

// runList prints the profiles. Errors: config file errors, printer errors.
func runList(_ context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, err := f.Printer()
	if err != nil {
		return err
	}
	file, _, err := f.Config()
	if err != nil {
		return err
	}
	vs := views(file, currentName(f, file))
	if len(vs) == 0 {
		f.Infof("No profiles yet: create one with `baton login`.")
	}
	return p.Print(vs, func(output.TimeFormatter) output.Table {
		t := output.Table{Headers: []string{"name", "server", "current", "key", "workspace"}}
		for _, v := range vs {
			cur := ""
			if v.Current {
				cur = "*"
			}
			t.Rows = append(t.Rows, []string{v.Name, v.Server, cur, v.KeyPrefix, v.Workspace})
		}
		return t
	})
}
