package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
)

var (
	pruneTaskEventsSQL  = sqlstore.PruneTaskEvents(ph)
	pruneUsageEventsSQL = sqlstore.PruneUsageEvents(ph)
)

// PruneEvents deletes at most limit task events and at most limit raw
// usage events of workspaceID older than before, each in a statement of
// its own (its own transaction), and says how many went.
func (s *Store) PruneEvents(ctx context.Context, workspaceID string, before time.Time, limit int) (store.Pruned, error) {
	var p store.Pruned
	tag, err := s.exec(ctx, pruneTaskEventsSQL, workspaceID, ts(before), limit)
	if err != nil {
		return p, fmt.Errorf("prune task events: %w", mapErr(err))
	}
	p.TaskEvents = tag.RowsAffected()
	tag, err = s.exec(ctx, pruneUsageEventsSQL, workspaceID, ts(before), limit)
	if err != nil {
		return p, fmt.Errorf("prune usage events: %w", mapErr(err))
	}
	p.UsageEvents = tag.RowsAffected()
	return p, nil
}
