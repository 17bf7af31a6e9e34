package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
)

const auditColumns = `id, workspace_id, actor, action, target, request_id, data, created_at`

func scanAudit(sc scanner) (store.AuditEvent, error) {
	var (
		e         store.AuditEvent
		data      string
		createdAt int64
	)
	if err := sc.Scan(&e.ID, &e.WorkspaceID, &e.Actor, &e.Action, &e.Target, &e.RequestID, &data, &createdAt); err != nil {
		return store.AuditEvent{}, err
	}
	if err := decodeJSON(data, &e.Data); err != nil {
		return store.AuditEvent{}, fmt.Errorf("audit event %s data: %w", e.ID, err)
	}
	e.CreatedAt = fromMicros(createdAt)
	return e, nil
}

// insertAudit writes events inside tx. An event without an id gets a new
// one (ids.Audit). A duplicate id is store.ErrConflict.
func insertAudit(ctx context.Context, tx *sql.Tx, events []store.AuditEvent) error {
	for _, e := range events {
		if e.ID == "" {
			e.ID = ids.New(ids.Audit)
		}
		data, err := encodeJSON(e.Data, len(e.Data), "{}")
		if err != nil {
			return fmt.Errorf("insert audit event %s: %w", e.ID, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_events (`+auditColumns+`)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
			e.ID, e.WorkspaceID, e.Actor, e.Action, e.Target, e.RequestID, data, micros(e.CreatedAt))
		if err != nil {
			return fmt.Errorf("insert audit event %s: %w", e.ID, mapErr(err))
		}
	}
	return nil
}

// ListAudit returns one page of workspaceID's audit events ordered by id
// (never nil). store.OperatorWorkspace lists operator-level events.
func (s *Store) ListAudit(ctx context.Context, workspaceID string, p store.Page) ([]store.AuditEvent, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE workspace_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3`, workspaceID, p.After, pageLimit(p))
	out, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}
