package storetest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// BenchDrain measures a drain at the store: b.N queued tasks of one
// workspace claimed one at a time and completed by 16 concurrent workers,
// reported as tasks/s. The store's commits are what it measures (SQLite:
// a sync to disk each, unless concurrent claims and completions share one).
func BenchDrain(b *testing.B, s store.Store) {
	ctx := b.Context()
	ws, _ := createWorkspace(b, s, "drain")
	for range b.N {
		if _, _, err := s.CreateTask(ctx, newTask(ws.ID), nil); err != nil {
			b.Fatal(err)
		}
	}
	workers := 16
	if v := os.Getenv("BATON_BENCH_WORKERS"); v != "" {
		workers, _ = strconv.Atoi(v)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for w := range workers {
		wg.Go(func() {
			p := params(ws.ID, t0)
			p.WorkerID = fmt.Sprintf("w%d", w)
			for {
				task, err := claimOne(ctx, s, p)
				if errors.Is(err, store.ErrNotFound) {
					return
				}
				if err == nil {
					_, err = s.Complete(ctx, ws.ID, task.ID, task.Attempt, succeed(t0))
				}
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if failed != nil {
		b.Fatal(failed)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
}
