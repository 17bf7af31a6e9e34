package servercmd

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/pkg/config"
)

func newCmdBackup(f *cmdutil.Factory) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the SQLite store to FILE, while the server runs",
		Long: `Write a consistent copy of the SQLite store (baton.db in the data dir, or the
sqlite: database URL) to FILE. The server may keep serving: the copy is one
snapshot of the database, compacted, in a standalone file with no -wal.

The copy is written to a temporary file beside FILE, checked (integrity_check
and the baton schema), synced and only then renamed to FILE, so FILE is never
a partial copy. An existing FILE is refused unless --force. The summary (size
and row counts) goes to stderr; -o json prints it as an object on stdout.

Keep the server secret (DATA_DIR/secret or BATON_SECRET) with your backups,
apart from them: without it no API key of a restored database authenticates.

PostgreSQL stores are backed up with pg_dump: for a postgres:// database URL
this command exits 1 and prints the pg_dump command to run (with row-level
security enabled and every workspace in scope, so that the owner's dump
holds every row).`,
		Example: `  baton server backup /srv/backups/baton-$(date -u +%Y%m%dT%H%M%SZ).db
  baton server backup --data-dir /var/lib/baton -o json /srv/backups/latest.db --force`,
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
				return cmdutil.WithHint(errors.New("baton server backup copies SQLite stores; this server uses PostgreSQL: back it up with pg_dump"),
					"run (with the password in ~/.pgpass or PGPASSWORD): "+pgDumpCommand(pg.url, file))
			} else if err != nil {
				return err
			}
			snap, err := sqlite.Backup(cmd.Context(), db, file, force)
			switch {
			case errors.Is(err, sqlite.ErrFileExists):
				return cmdutil.WithHint(err, "pass --force to replace it, or name a new file, e.g. baton-$(date -u +%Y%m%dT%H%M%SZ).db")
			case errors.Is(err, sqlite.ErrNoDatabase):
				return cmdutil.WithHint(err, "is this the server's data dir? Pass --data-dir or set BATON_DATA_DIR as the server has it")
			case err != nil:
				return err
			}
			f.Infof("Backed up %s to %s: %d bytes, schema version %d, integrity ok", db, snap.Path, snap.Bytes, snap.SchemaVersion)
			f.Infof("  %s", snap.Summary())
			if p.Format() == output.FormatTable {
				return nil
			}
			obj := snapshotObject(snap)
			obj["file"], obj["database"], obj["integrity"] = snap.Path, db, "ok"
			return printObject(p, obj)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "Replace FILE if it exists")
	return cmd
}

// postgresError is sqliteFile's answer for a PostgreSQL store.
type postgresError struct{ url string }

func (e *postgresError) Error() string { return "the store is PostgreSQL, not SQLite" }

// sqliteFile is the SQLite database file of cfg, resolved as app.OpenStore
// does (the sqlite: or file: URL, else baton.db in the data dir), or a
// *postgresError for a postgres:// URL.
func sqliteFile(cfg config.Server) (string, error) {
	kind, loc, err := app.Database(cfg)
	switch {
	case err != nil:
		return "", &cmdutil.FlagError{Err: err}
	case kind == app.KindPostgres:
		return "", &postgresError{url: loc}
	}
	return loc, nil
}

// snapshotObject is the JSON form of a snapshot's size, schema and counts.
func snapshotObject(s sqlite.Snapshot) map[string]any {
	obj := map[string]any{"bytes": s.Bytes, "schema_version": s.SchemaVersion}
	for k, n := range s.Counts {
		obj[k] = n
	}
	return obj
}

// pgDumpCommand is the pg_dump command line for the database at dbURL,
// writing file, with the password redacted. pgx-only parameters are not
// libpq's: pool_* is dropped and search_path becomes --schema. Row-level
// security binds the tables' owner too (FORCE), so the dump runs with it
// enabled and the system scope set, and sees every workspace's rows (by
// default pg_dump refuses a table whose policies would hide rows).
func pgDumpCommand(dbURL, file string) string {
	args := []string{"PGOPTIONS='-c baton.workspace_id=*'", "pg_dump", "--format=custom", "--no-owner", "--enable-row-security", "--file=" + shellQuote(file)}
	conn, schema := libpqURL(dbURL)
	if schema != "" {
		args = append(args, "--schema="+shellQuote(schema))
	}
	return strings.Join(append(args, shellQuote(conn)), " ")
}

// pgRestoreCommand is the pg_restore command line that restores file into
// the database at dbURL, replacing what is there.
func pgRestoreCommand(dbURL, file string) string {
	conn, _ := libpqURL(dbURL)
	return "pg_restore --clean --if-exists --no-owner --exit-on-error --dbname=" + shellQuote(conn) + " " + shellQuote(file)
}

// libpqURL is dbURL with the password redacted and pgx-only parameters
// removed; schema is the first schema of its search_path.
func libpqURL(dbURL string) (conn, schema string) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return redacted(dbURL), ""
	}
	q := u.Query()
	if sp := q.Get("search_path"); sp != "" {
		schema = strings.TrimSpace(strings.Split(sp, ",")[0])
	}
	for k := range q {
		if k == "search_path" || strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.Redacted(), schema
}

// redacted hides the password of a URL.
func redacted(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printObject prints obj for -o json, yaml or csv (keys in order).
func printObject(p *output.Printer, obj map[string]any) error {
	return p.PrintObject(obj, func(output.TimeFormatter) [][2]string {
		kv := make([][2]string, 0, len(obj))
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			kv = append(kv, [2]string{k, fmt.Sprint(obj[k])})
		}
		return kv
	})
}
