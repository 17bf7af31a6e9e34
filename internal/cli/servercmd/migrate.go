package servercmd

import (
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/config"
)

func newCmdMigrate(f *cmdutil.Factory) *cobra.Command {
	var grant string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending store migrations and exit",
		Long: `Apply pending store migrations and exit.

Run it as the role that owns baton's tables. With --grant ROLE (PostgreSQL)
it then lets ROLE use the tables without owning them: the server can run as
that role, which row-level security binds (docs/security.md). ROLE must
exist, must not be a superuser and must not have BYPASSRLS.`,
		Example: `  baton server migrate
  BATON_DATABASE_URL=postgres://owner@db/baton baton server migrate --grant baton_app`,
		Args: cmdutil.NoArgs,
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
			if grant != "" {
				if err := app.GrantRole(cmd.Context(), st, grant); err != nil {
					st.Close()
					return err
				}
				f.Infof("granted %s the use of baton's tables", grant)
			}
			return st.Close()
		},
	}
	cmd.Flags().StringVar(&grant, "grant", "", "after migrating, let `ROLE` use baton's tables without owning them (PostgreSQL)")
	return cmd
}
