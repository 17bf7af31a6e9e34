// Package versioncmd is `baton version`.
package versioncmd

import (
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/internal/version"
)

// NewCmdVersion returns `baton version`.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.Printer()
			if err != nil {
				return err
			}
			info := version.Get()
			return p.PrintObject(info, func(output.TimeFormatter) [][2]string {
				return [][2]string{{"version", info.Version}, {"commit", info.Commit}, {"date", info.Date}, {"go", info.GoVersion}, {"platform", info.Platform}}
			})
		},
	}
}
