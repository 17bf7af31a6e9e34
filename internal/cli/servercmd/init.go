package servercmd

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/config"
)

func newCmdInit(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the store and print the first operator key (once)",
		Long: `Create (migrate) the store, generate the server secret if there is none, and
print the first operator key (bak_…). The key is shown only this once: keep it
in a secret manager. Running init again on an initialized server fails.`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.LoadServer(cmd.Flags(), f.Getenv)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			ctx := cmd.Context()
			st, _, err := app.OpenMigrated(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			secret, err := app.LoadSecret(cfg.Secret, cfg.DataDir)
			if err != nil {
				return err
			}
			key, k, err := app.Init(ctx, st, secret, time.Now())
			if errors.Is(err, app.ErrInitialized) {
				return cmdutil.WithHint(err, "create more operator keys with `baton keys create` using an operator key, or set BATON_ADMIN_KEY")
			} else if err != nil {
				return err
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			if p.Format() == output.FormatTable {
				_, err = f.IOStreams.Out.Write([]byte(key + "\n"))
			} else {
				err = p.PrintObject(map[string]any{"id": k.ID, "secret": key, "scopes": k.Scopes}, func(output.TimeFormatter) [][2]string {
					return [][2]string{{"id", k.ID}, {"secret", key}}
				})
			}
			f.Infof("This operator key is shown only once. Use it with: baton login --server URL --with-token")
			return err
		},
	}
}
