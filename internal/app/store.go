// Package app wires a baton server process together: it opens the store
// named by the configuration, loads the server secret, and bootstraps the
// first operator key. `baton server`, `server init|migrate` and `baton dev`
// share it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/pkg/config"
)

// Store is a store that can also apply its migrations.
type Store interface {
	store.Store
	Migrate(ctx context.Context) error
}

// Database kinds of a configuration.
const (
	KindSQLite   = "sqlite"
	KindPostgres = "postgres"
)

// ErrUnsupportedURL is returned for a database URL baton cannot use.
var ErrUnsupportedURL = errors.New("unsupported database URL")

// Database says which store cfg names: KindPostgres with the URL, or
// KindSQLite with the database file (the file named by a sqlite: URL, or
// baton.db in the data dir). Error: ErrUnsupportedURL (password redacted).
func Database(cfg config.Server) (kind, location string, err error) {
	u := cfg.DatabaseURL
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		return KindPostgres, u, nil
	case u == "" || strings.HasPrefix(u, "sqlite:") || strings.HasPrefix(u, "file:"):
		path := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(u, "sqlite://"), "sqlite:"), "file:")
		if path == "" {
			if cfg.DataDir == "" {
				return "", "", errors.New("no data dir: pass --data-dir or set BATON_DATA_DIR")
			}
			path = filepath.Join(cfg.DataDir, "baton.db")
		}
		return KindSQLite, path, nil
	}
	return "", "", fmt.Errorf("%w %q: want postgres://… or sqlite:PATH (or none, for SQLite in the data dir)", ErrUnsupportedURL, redactURL(u))
}

// OpenStore opens the store of cfg (see Database). It does not migrate.
func OpenStore(ctx context.Context, cfg config.Server) (Store, string, error) {
	kind, loc, err := Database(cfg)
	if err != nil {
		return nil, "", err
	}
	if kind == KindPostgres {
		s, err := postgres.Open(ctx, loc, cfg.DBMaxConns)
		if err != nil {
			return nil, "", fmt.Errorf("open postgres: %w", err)
		}
		return s, "postgres", nil
	}
	if err := os.MkdirAll(filepath.Dir(loc), 0o700); err != nil {
		return nil, "", fmt.Errorf("create data dir: %w", err)
	}
	if err := privateFiles(loc); err != nil {
		return nil, "", err
	}
	s, err := sqlite.Open(ctx, loc)
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite %s: %w", loc, err)
	}
	return s, "sqlite " + loc, nil
}

// privateFiles makes the database file and its WAL and shared-memory files
// mode 0600, creating the database file when absent: SQLite creates the
// other two with the database file's mode, so no file of the store is ever
// readable by other users (they were 0644 under the usual umask).
func privateFiles(db string) error {
	f, err := os.OpenFile(db, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", db, err)
	}
	f.Close()
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("make %s private: %w", p, err)
		}
	}
	return nil
}

// OpenMigrated opens the store and applies pending migrations.
func OpenMigrated(ctx context.Context, cfg config.Server) (Store, string, error) {
	s, desc, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, "", fmt.Errorf("migrate %s: %w", desc, err)
	}
	return s, desc, nil
}

// ReportRowSecurity logs whether PostgreSQL's row-level security binds the
// store's role (docs/security.md): INFO when it does, WARN with the reason
// when it does not (a superuser or BYPASSRLS role skips every policy).
// SQLite has no roles; nothing is logged.
func ReportRowSecurity(ctx context.Context, st Store, log *slog.Logger) error {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil
	}
	inForce, why, err := pg.InForce(ctx)
	if err != nil {
		return err
	}
	if inForce {
		log.Info("row-level security is in force", "detail", why)
	} else {
		log.Warn("row-level security is NOT in force: run the server as a role that is not a superuser and has no BYPASSRLS (baton server migrate --grant ROLE)", "detail", why)
	}
	return nil
}

// GrantRole lets role run the server on st without owning its tables (see
// postgres.Store.Grant). Only PostgreSQL has roles.
func GrantRole(ctx context.Context, st Store, role string) error {
	pg, ok := st.(*postgres.Store)
	if !ok {
		return errors.New("--grant: only a PostgreSQL store has roles")
	}
	return pg.Grant(ctx, role)
}

// redactURL hides a password in a database URL.
func redactURL(u string) string {
	if at := strings.Index(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme > 0 && scheme < at {
			userinfo := u[scheme+3 : at]
			if user, _, ok := strings.Cut(userinfo, ":"); ok {
				return u[:scheme+3] + user + ":xxxxx" + u[at:]
			}
		}
	}
	return u
}
