package testutil

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PostgresRole is the role the tests' stores connect as: it owns its test
// schemas and their tables but is neither a superuser nor BYPASSRLS, so
// that row-level security binds every PostgreSQL test as it binds a
// production server (a superuser, as BATON_TEST_POSTGRES_URL's usually is,
// would skip every policy).
const PostgresRole = "baton_test"

// PostgresAdminURL returns BATON_TEST_POSTGRES_URL, the administrator's
// URL, or skips the test when it is unset (CI sets it).
func PostgresAdminURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("BATON_TEST_POSTGRES_URL")
	if base == "" {
		tb.Skip("BATON_TEST_POSTGRES_URL is not set")
	}
	return base
}

// PostgresExec runs sql on the administrator's connection.
func PostgresExec(tb testing.TB, sql string) error {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, PostgresAdminURL(tb))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// PostgresCreateRole creates a LOGIN role that is neither a superuser nor
// BYPASSRLS, unless it exists. Tests in parallel may race to create it:
// the loser's duplicate error is success.
func PostgresCreateRole(tb testing.TB, role string) {
	tb.Helper()
	err := PostgresExec(tb, `CREATE ROLE `+pgx.Identifier{role}.Sanitize()+` LOGIN NOSUPERUSER NOBYPASSRLS`)
	var pe *pgconn.PgError
	// 42710 duplicate_object; 23505 unique_violation when two creates race.
	if err != nil && !(errors.As(err, &pe) && (pe.Code == "42710" || pe.Code == "23505")) {
		tb.Fatalf("create role %s: %v", role, err)
	}
}

// PostgresSchema returns a URL of BATON_TEST_POSTGRES_URL's database that
// connects as PostgresRole with its search_path set to a new schema of
// the test's own (owned by that role), dropped when the test ends, so that
// parallel tests and repeated runs never see each other's rows. It skips
// the test when the variable is unset. LISTEN/NOTIFY channels are per
// database, not per schema: tests share them.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	base := PostgresAdminURL(tb)
	PostgresCreateRole(tb, PostgresRole)
	schema := "baton_test_" + strings.ToLower(rand.Text())
	if err := PostgresExec(tb, "CREATE SCHEMA "+schema+" AUTHORIZATION "+PostgresRole); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if err := PostgresExec(tb, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	return PostgresURL(tb, base, PostgresRole, schema)
}

// PostgresURL is base connecting as role with its search_path set to
// schema.
func PostgresURL(tb testing.TB, base, role, schema string) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("BATON_TEST_POSTGRES_URL must be a URL: %v", err)
	}
	u.User = url.User(role)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// PostgresSchemaOf returns the schema a PostgresSchema URL uses.
func PostgresSchemaOf(tb testing.TB, dbURL string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Query().Get("search_path")
}
