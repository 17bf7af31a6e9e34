package postgres_test

import (
	"sync"
	"testing"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/store/storetest"
	"github.com/genericcorp/baton/internal/testutil"
)

// envURL names the database the tests use; they are skipped without it.
const envURL = "BATON_TEST_POSTGRES_URL"

// schemaURL is a schema of the test's own (testutil.PostgresSchema),
// reached as a role that row-level security binds.
func schemaURL(t *testing.T) string {
	t.Helper()
	return testutil.PostgresSchema(t)
}

// openURL opens a store on url, closed when the test ends (before the
// schema is dropped: cleanups run last registered first).
func openURL(t *testing.T, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), url, 4)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openURL(t, schemaURL(t))
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	})
}

// TestMigrateConcurrently starts several replicas on one empty schema at
// once: the migration lock must let exactly one create the tables.
func TestMigrateConcurrently(t *testing.T) {
	u := schemaURL(t)
	const n = 5
	stores := make([]*postgres.Store, n)
	for i := range stores {
		stores[i] = openURL(t, u)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.Migrate(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if err := stores[0].Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := stores[0].ListWorkspaces(t.Context(), store.Page{}); err != nil {
		t.Fatalf("ListWorkspaces after concurrent migrations: %v", err)
	}
}

func TestOpenBadURL(t *testing.T) {
	if s, err := postgres.Open(t.Context(), "postgres://127.0.0.1:1/none?sslmode=disable&connect_timeout=1", 0); err == nil {
		s.Close()
		t.Fatal("Open of an unreachable database succeeded")
	}
}
