package sqlite

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
	res, err := s.writer.ExecContext(ctx, pruneTaskEventsSQL, workspaceID, micros(before), limit)
	if err != nil {
		return p, fmt.Errorf("prune task events: %w", mapErr(err))
	}
	if p.TaskEvents, err = res.RowsAffected(); err != nil {
		return p, err
	}
	res, err = s.writer.ExecContext(ctx, pruneUsageEventsSQL, workspaceID, micros(before), limit)
	if err != nil {
		return p, fmt.Errorf("prune usage events: %w", mapErr(err))
	}
	p.UsageEvents, err = res.RowsAffected()
	return p, err
}
