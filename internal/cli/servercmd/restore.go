package servercmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/pkg/config"
)

func newCmdRestore(f *cmdutil.Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Make a backup the SQLite store (stop the server first)",
		Long: `Make FILE, a backup written by ` + "`baton server backup`" + `, the SQLite store
(baton.db in the data dir, or the sqlite: database URL).

Stop the server first: restore refuses while any process has the database
open. FILE is checked (integrity_check, the baton schema, a schema version
this baton knows) and copied beside the database; pending migrations are
applied to the copy (a backup from an older baton is upgraded), then it
replaces the database in one rename, and stale -wal/-shm files are removed.

A database that holds any data is replaced only with --force, and is then
kept as baton.db.before-restore-TIME (delete it when you no longer need it).

Start the server with the secret (DATA_DIR/secret or BATON_SECRET) that was in
use when the backup was taken: with another one no API key authenticates.

PostgreSQL stores are restored with pg_restore: for a postgres:// database URL
this command exits 1 and prints the pg_restore command to run.`,
		Example: `  systemctl stop baton
  baton server restore /srv/backups/baton-20261128T030000Z.db --force
  systemctl start baton`,
		Args: cmdutil.ExactArgs(1, "backup file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.LoadServer(cmd.Flags(), f.Getenv)
			if err != nil {
				return &cmdutil.FlagError{Err: err}
			}
			p, err := f.Printer()
			if err != nil {
				return err
			}
			file := args[0]
			db, err := sqliteFile(cfg)
			if pg := (*postgresError)(nil); errors.As(err, &pg) {
				return cmdutil.WithHint(errors.New("baton server restore restores SQLite stores; this server uses PostgreSQL: restore a pg_dump archive with pg_restore"),
					"stop every server, run "+pgRestoreCommand(pg.url, file)+", then `baton server migrate`; see docs/runbooks/restore-from-backup.md")
			} else if err != nil {
				return err
			}
			res, err := sqlite.Restore(cmd.Context(), file, db, force)
			switch {
			case errors.Is(err, sqlite.ErrInUse):
				return cmdutil.WithHint(err, "stop the server first (e.g. systemctl stop baton, docker compose stop baton): restore replaces the database file")
			case errors.Is(err, sqlite.ErrNotEmpty):
				return cmdutil.WithHint(err, "pass --force to replace it; the current database is then kept as "+db+".before-restore-TIME")
			case errors.Is(err, sqlite.ErrInvalidBackup):
				return cmdutil.WithHint(err, "restore a file written by `baton server backup`; check one with: sqlite3 FILE 'PRAGMA integrity_check'")
			case err != nil:
				return err
			}
			f.Infof("Restored %s into %s: %d bytes, schema version %d (backup: %d)", file, db, res.Bytes, res.SchemaVersion, res.FromVersion)
			f.Infof("  %s", res.Summary())
			if res.Kept != "" {
				f.Infof("The replaced database is kept as %s: delete it when you no longer need it.", res.Kept)
			}
			f.Infof("Start the server with the secret in use when the backup was taken.")
			if p.Format() == output.FormatTable {
				return nil
			}
			obj := snapshotObject(res.Snapshot)
			obj["file"], obj["database"], obj["from_schema_version"], obj["kept"] = file, db, res.FromVersion, res.Kept
			return printObject(p, obj)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "Replace a database that holds data (it is kept as baton.db.before-restore-TIME)")
	return cmd
}
