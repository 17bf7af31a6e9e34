package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
)

func ph(n int) string { return fmt.Sprintf("$%d", n) }

var (
	seenWorkerSQL   = sqlstore.SeenWorker(ph, "$5::jsonb")
	listWorkersSQL  = sqlstore.ListWorkers(ph)
	pruneWorkersSQL = sqlstore.PruneWorkers(ph)
	listQueuesSQL   = sqlstore.ListQueues(ph)
)

// SeenWorker records w.
func (s *Store) SeenWorker(ctx context.Context, w store.Worker) error {
	queues, err := rowcodec.EncodeJSON(w.Queues, len(w.Queues), "[]")
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, seenWorkerSQL, w.WorkspaceID, w.ID, w.Host, w.Version, queues, w.Concurrency, ts(w.LastSeenAt))
	return mapErr(err)
}

// ListWorkers returns the workers of workspaceID seen since.
func (s *Store) ListWorkers(ctx context.Context, workspaceID string, since time.Time) ([]store.Worker, error) {
	rows, err := s.query(ctx, listWorkersSQL, ts(since), workspaceID)
	out, err := collect(rows, err, func(sc scanner) (store.Worker, error) {
		var (
			w      store.Worker
			queues []byte
		)
		if err := sc.Scan(&w.WorkspaceID, &w.ID, &w.Host, &w.Version, &queues, &w.Concurrency, &w.LastSeenAt, &w.Running); err != nil {
			return w, err
		}
		w.LastSeenAt = w.LastSeenAt.UTC()
		return w, rowcodec.DecodeJSON(queues, &w.Queues)
	})
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return out, nil
}

// PruneWorkers deletes the workers last seen before before.
func (s *Store) PruneWorkers(ctx context.Context, before time.Time) error {
	_, err := s.exec(ctx, pruneWorkersSQL, ts(before))
	return mapErr(err)
}

// ListQueues returns workspaceID's queues with their counts.
func (s *Store) ListQueues(ctx context.Context, workspaceID string) ([]store.QueueCount, error) {
	rows, err := s.query(ctx, listQueuesSQL, workspaceID)
	got, err := collect(rows, err, func(sc scanner) (sqlstore.QueueRow, error) {
		var (
			r      sqlstore.QueueRow
			oldest *time.Time
		)
		err := sc.Scan(&r.Queue, &r.Status, &r.N, &oldest)
		if oldest != nil {
			r.Oldest = oldest.UTC()
		}
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return sqlstore.FoldQueues(got), nil
}
