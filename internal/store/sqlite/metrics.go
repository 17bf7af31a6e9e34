package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/poolstats"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
)

// CountAllTasks counts the tasks in status per workspace, across every
// workspace (operator data).
func (s *Store) CountAllTasks(ctx context.Context, status string) (map[string]int, error) {
	rows, err := s.reader.QueryContext(ctx, sqlstore.CountByWorkspace("?1"), status)
	return countsByWorkspace(rows, err)
}

// countsByWorkspace reads (workspace id, count) rows.
func countsByWorkspace(rows *sql.Rows, err error) (map[string]int, error) {
	out := map[string]int{}
	if err := eachRow(rows, err, func(sc scanner) error {
		var (
			ws string
			n  int
		)
		err := sc.Scan(&ws, &n)
		out[ws] = n
		return err
	}); err != nil {
		return nil, fmt.Errorf("count tasks by workspace: %w", err)
	}
	return out, nil
}

// QueueStats counts tasks per queue and status across every workspace from
// task_counts, with each queue's oldest queued created_at from one probe of
// the index tasks_status_queue_created: no scan of tasks.
func (s *Store) QueueStats(ctx context.Context) ([]store.QueueStat, error) {
	rows, err := s.reader.QueryContext(ctx, sqlstore.QueueStats)
	out, err := collect(rows, err, func(r scanner) (store.QueueStat, error) {
		var q store.QueueStat
		var oldest sql.NullInt64
		if err := r.Scan(&q.Queue, &q.Status, &q.Count, &oldest); err != nil {
			return q, err
		}
		if oldest.Valid {
			q.OldestCreatedAt = fromMicros(oldest.Int64)
		}
		return q, nil
	})
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	return out, nil
}

// Collectors returns the metrics of the store's two pools (pool
// sqlite_writer, its one connection, and sqlite_reader), read at each
// scrape from sql.DBStats.
func (s *Store) Collectors() []prometheus.Collector {
	return []prometheus.Collector{poolstats.NewCollector(func() []poolstats.Stats {
		return []poolstats.Stats{dbStats("sqlite_writer", s.writer), dbStats("sqlite_reader", s.reader)}
	})}
}

func dbStats(pool string, db *sql.DB) poolstats.Stats {
	st := db.Stats()
	return poolstats.Stats{Pool: pool, Max: int64(st.MaxOpenConnections), Open: int64(st.OpenConnections),
		InUse: int64(st.InUse), Idle: int64(st.Idle), Waits: st.WaitCount, WaitS: st.WaitDuration.Seconds()}
}
