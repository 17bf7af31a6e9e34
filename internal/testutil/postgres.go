package testutil

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresSchema returns BATON_TEST_POSTGRES_URL with its search_path set to
// a new schema of the test's own, dropped when the test ends, so that
// parallel tests and repeated runs never see each other's rows. It skips
// the test when the variable is unset (CI sets it). LISTEN/NOTIFY channels
// are per database, not per schema: tests share them.
func PostgresSchema(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("BATON_TEST_POSTGRES_URL")
	if base == "" {
		tb.Skip("BATON_TEST_POSTGRES_URL is not set")
	}
	schema := "baton_test_" + strings.ToLower(rand.Text())
	exec := func(sql string) error {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("BATON_TEST_POSTGRES_URL must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
