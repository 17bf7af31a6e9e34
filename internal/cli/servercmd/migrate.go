package servercmd

import (
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/config"
)

func newCmdMigrate(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending store migrations and exit",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.LoadServer(cmd.Flags(), f.Getenv)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			st, desc, err := app.OpenMigrated(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			f.Infof("migrated %s", desc)
			return st.Close()
		},
	}
}
