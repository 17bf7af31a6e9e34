package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/store/storetest"
)

// openBench opens and migrates a store in b's temporary directory.
func openBench(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "baton.db"))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { s.Close() })
	if err := s.Migrate(b.Context()); err != nil {
		b.Fatalf("Migrate: %v", err)
	}
	return s
}

// BenchmarkUsageTotals reads the rollups of a workspace with 1 000 000
// usage events (storetest.EnvBenchUsageEvents to change).
func BenchmarkUsageTotals(b *testing.B) { storetest.BenchUsage(b, openBench(b)) }

// BenchmarkDrain16: 16 workers claim and complete a workspace's queue, one
// task per claim (tasks/s).
func BenchmarkDrain16(b *testing.B) { storetest.BenchDrain(b, openBench(b)) }

// BenchmarkSteps: step begins and ends, and replays, at the store (steps/s).
func BenchmarkSteps(b *testing.B) { storetest.BenchSteps(b, openBench(b)) }
