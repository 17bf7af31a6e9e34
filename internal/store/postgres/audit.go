package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
)

const auditColumns = `id, workspace_id, actor, action, target, request_id, data, created_at`

func scanAudit(sc scanner) (store.AuditEvent, error) {
	var (
		e         store.AuditEvent
		data      []byte
		createdAt time.Time
	)
	if err := sc.Scan(&e.ID, &e.WorkspaceID, &e.Actor, &e.Action, &e.Target, &e.RequestID, &data, &createdAt); err != nil {
		return store.AuditEvent{}, err
	}
	if err := rowcodec.DecodeJSON(data, &e.Data); err != nil {
		return store.AuditEvent{}, fmt.Errorf("audit event %s data: %w", e.ID, err)
	}
	e.CreatedAt = createdAt.UTC()
	return e, nil
}

// InsertAudit inserts e, whose Data is encoded as data.
func (x txRows) InsertAudit(ctx context.Context, e store.AuditEvent, data string) error {
	_, err := x.tx.Exec(ctx, `INSERT INTO audit_events (`+auditColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.WorkspaceID, e.Actor, e.Action, e.Target, e.RequestID, data, ts(e.CreatedAt))
	return mapErr(err)
}

// ListAudit returns one page of workspaceID's audit events ordered by id
// (never nil). store.OperatorWorkspace lists operator-level events.
func (s *Store) ListAudit(ctx context.Context, workspaceID string, p store.Page) ([]store.AuditEvent, error) {
	rows, err := s.query(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, p.After, rowcodec.PageLimit(p))
	out, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
