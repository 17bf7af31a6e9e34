package postgres_test

import (
	"context"
	"testing"

	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/store/storetest"
	"github.com/genericcorp/baton/internal/testutil"
)

// BenchmarkUsageTotals reads the rollups of a workspace with 1 000 000
// usage events (storetest.EnvBenchUsageEvents to change), in a schema of
// its own, dropped afterwards. Skipped unless BATON_TEST_POSTGRES_URL is set.
func BenchmarkUsageTotals(b *testing.B) {
	ctx := context.Background()
	u := testutil.PostgresSchema(b)
	s, err := postgres.Open(ctx, u, 4)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	storetest.BenchUsage(b, s)
}

// BenchmarkDrain16: 16 workers claim and complete a workspace's queue, one
// task per claim (tasks/s), in a schema of its own (testutil.PostgresSchema).
func BenchmarkDrain16(b *testing.B) {
	s, err := postgres.Open(b.Context(), testutil.PostgresSchema(b), 32)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	storetest.BenchDrain(b, s)
}

// BenchmarkSteps: step begins and ends, and replays, at the store (steps/s),
// in a schema of its own.
func BenchmarkSteps(b *testing.B) {
	s, err := postgres.Open(b.Context(), testutil.PostgresSchema(b), 8)
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	storetest.BenchSteps(b, s)
}
