package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/poolstats"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
)

// QueueStats counts tasks per queue and status across every workspace from
// task_counts, with each queue's oldest queued created_at from one probe of
// the index tasks_status_queue_created: no scan of tasks.
func (s *Store) QueueStats(ctx context.Context) ([]store.QueueStat, error) {
	rows, err := s.query(ctx, sqlstore.QueueStats)
	out, err := collect(rows, err, func(r scanner) (store.QueueStat, error) {
		var (
			q      store.QueueStat
			oldest *time.Time
		)
		if err := r.Scan(&q.Queue, &q.Status, &q.Count, &oldest); err != nil {
			return q, err
		}
		if oldest != nil {
			q.OldestCreatedAt = oldest.UTC()
		}
		return q, nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	return out, nil
}

// CountAllTasks counts the tasks in status per workspace, across every
// workspace (operator data).
func (s *Store) CountAllTasks(ctx context.Context, status string) (map[string]int, error) {
	type count struct {
		ws string
		n  int
	}
	rows, err := s.query(ctx, sqlstore.CountByWorkspace("$1"), status)
	counts, err := collect(rows, err, func(r scanner) (count, error) {
		var c count
		return c, r.Scan(&c.ws, &c.n)
	})
	if err != nil {
		return nil, fmt.Errorf("count tasks by workspace: %w", err)
	}
	out := make(map[string]int, len(counts))
	for _, c := range counts {
		out[c.ws] = c.n
	}
	return out, nil
}

// Collectors returns the metrics of the store's pgxpool (pool postgres),
// read at each scrape from pgxpool.Stat.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{poolstats.NewCollector(func() []poolstats.Stats {
		st := s.pool.Stat()
		return []poolstats.Stats{{Pool: "postgres", Max: int64(st.MaxConns()), Open: int64(st.TotalConns()),
			InUse: int64(st.AcquiredConns()), Idle: int64(st.IdleConns()),
			Waits: st.EmptyAcquireCount(), WaitS: st.EmptyAcquireWaitTime().Seconds(),
			Counts: true, Acq: st.AcquireCount(), AcqS: st.AcquireDuration().Seconds()}}
	})}
}
