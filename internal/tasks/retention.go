package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// pruneBatch is how many events of each kind one PruneEvents call deletes:
// small enough that no statement holds the store for long.
const pruneBatch = 5000

// Prune deletes, for every workspace with an event_retention_days, its
// task events and raw usage events older than that many days (DESIGN.md:
// the rollups that usage reports and quotas read are kept, so they stay
// exact). It returns what it deleted, also when it fails part way.
// Replicas may run it at once: the deletes are idempotent.
func (s *Service) Prune(ctx context.Context) (store.Pruned, error) {
	var total store.Pruned
	now := s.now()
	page := store.Page{Limit: 100}
	for {
		wss, err := s.cfg.Store.ListWorkspaces(ctx, page)
		if err != nil {
			return total, fmt.Errorf("retention: list workspaces: %w", err)
		}
		for _, ws := range wss {
			days := s.cfg.Limits(ws).EventRetentionDays
			if days <= 0 {
				continue
			}
			before := now.Add(-time.Duration(min(days, 36500)) * 24 * time.Hour)
			for {
				p, err := s.cfg.Store.PruneEvents(ctx, ws.ID, before, pruneBatch)
				total.TaskEvents += p.TaskEvents
				total.UsageEvents += p.UsageEvents
				if err != nil {
					return total, fmt.Errorf("retention of %s: %w", ws.ID, err)
				}
				if p.TaskEvents < pruneBatch && p.UsageEvents < pruneBatch {
					break
				}
			}
		}
		if len(wss) < page.Limit {
			return total, nil
		}
		page.After = wss[len(wss)-1].ID
	}
}

// RunRetention calls Prune every interval until ctx is done, logging what
// it deleted.
func (s *Service) RunRetention(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p, err := s.Prune(ctx)
			if err != nil && ctx.Err() == nil {
				s.cfg.Log.Error("event retention", "err", err)
			}
			if p.TaskEvents > 0 || p.UsageEvents > 0 {
				s.cfg.Log.Info("event retention: pruned", "task_events", p.TaskEvents, "usage_events", p.UsageEvents)
			}
		}
	}
}
