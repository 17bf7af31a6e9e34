// Package servercmd is `baton server` and its maintenance verbs.
package servercmd

import (
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/config"
)

// NewCmdServer returns `baton server` with init, migrate, health, backup
// and restore.
func NewCmdServer(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the baton API server",
		Long: `Run the baton API server.

With no database URL it keeps its data in SQLite in the data dir; give
--database-url postgres://… to use PostgreSQL (run several replicas behind a
load balancer with the same BATON_SECRET). Pending migrations are applied at
start. SIGINT/SIGTERM drain in-flight requests, then stop.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.LoadServer(cmd.Flags(), f.Getenv)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			log := f.Logger(cfg.LogFormat, cmdutil.LogOptions{})
			s, err := app.Prepare(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			return s.Serve(cmd.Context())
		},
	}
	config.ServerFlags(cmd.PersistentFlags())
	config.PprofFlags(cmd.Flags())
	cmd.AddCommand(newCmdInit(f), newCmdMigrate(f), newCmdHealth(f), newCmdBackup(f), newCmdRestore(f))
	return cmd
}
