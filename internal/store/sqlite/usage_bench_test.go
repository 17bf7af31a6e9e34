package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/store/storetest"
)

// BenchmarkUsageTotals reads the rollups of a workspace with 1 000 000
// usage events (storetest.EnvBenchUsageEvents to change).
func BenchmarkUsageTotals(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "baton.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	storetest.BenchUsage(b, s)
}
