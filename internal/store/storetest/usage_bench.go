package storetest

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// EnvBenchUsageEvents overrides how many usage events BenchUsage seeds.
const EnvBenchUsageEvents = "BATON_BENCH_USAGE_EVENTS"

// BenchUsage seeds s (empty and migrated) with one workspace's usage
// events — 1 000 000 unless EnvBenchUsageEvents says otherwise — spread
// over the year before now, outside the timer, then measures the reads of
// a usage report: UsageTotals of this month and UsageSeries by day over the
// last 30 days. Both read rollups, so neither depends on the event count.
func BenchUsage(b *testing.B, s store.Store) {
	n := 1_000_000
	if v := os.Getenv(EnvBenchUsageEvents); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("%s=%q: want a positive integer", EnvBenchUsageEvents, v)
		}
	}
	ctx := b.Context()
	ws := newWorkspace("bench")
	if err := s.CreateWorkspace(ctx, ws, newKey(ws.ID)); err != nil {
		b.Fatalf("CreateWorkspace: %v", err)
	}
	now := time.Now().UTC()
	start := now.AddDate(-1, 0, 0)
	step := now.Sub(start) / time.Duration(n)

	b.StopTimer()
	seeded := time.Now()
	const batch = 5000
	evs := make([]store.UsageEvent, 0, batch)
	for i := range n {
		evs = append(evs, store.UsageEvent{
			ID:          fmt.Sprintf("ev-%08d", i),
			WorkspaceID: ws.ID,
			Metric:      store.UsageMetrics[i%len(store.UsageMetrics)],
			Value:       int64(i%97 + 1),
			At:          start.Add(time.Duration(i) * step),
		})
		if len(evs) == batch || i == n-1 {
			if _, err := s.RecordUsage(ctx, evs...); err != nil {
				b.Fatalf("seed RecordUsage: %v", err)
			}
			evs = evs[:0]
		}
	}
	b.Logf("seeded %d usage events in %v", n, time.Since(seeded).Round(time.Millisecond))
	b.StartTimer()

	b.Run("UsageTotals", func(b *testing.B) {
		for b.Loop() {
			m, err := s.UsageTotals(ctx, ws.ID, now)
			if err != nil || len(m) == 0 {
				b.Fatalf("UsageTotals = %v, %v", m, err)
			}
		}
	})
	b.Run("UsageSeriesDay30", func(b *testing.B) {
		for b.Loop() {
			p, err := s.UsageSeries(ctx, ws.ID, now.AddDate(0, 0, -30), now, store.GranularityDay)
			if err != nil || len(p) == 0 {
				b.Fatalf("UsageSeries = %d points, %v", len(p), err)
			}
		}
	})
}
