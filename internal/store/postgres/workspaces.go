package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
)

const workspaceColumns = `id, name, tier, status, overrides, created_at, updated_at`

func scanWorkspace(sc scanner) (store.Workspace, error) {
	var (
		ws                   store.Workspace
		overrides            []byte
		createdAt, updatedAt time.Time
	)
	if err := sc.Scan(&ws.ID, &ws.Name, &ws.Tier, &ws.Status, &overrides, &createdAt, &updatedAt); err != nil {
		return store.Workspace{}, err
	}
	if err := decodeJSON(overrides, &ws.Overrides); err != nil {
		return store.Workspace{}, fmt.Errorf("workspace %s overrides: %w", ws.ID, err)
	}
	ws.CreatedAt = createdAt.UTC()
	ws.UpdatedAt = updatedAt.UTC()
	return ws, nil
}

// CreateWorkspace writes ws, its first key and the audit events in one
// transaction. first.WorkspaceID must be ws.ID. Returns store.ErrConflict if
// the workspace id or name, or the key id or hash, exists.
func (s *Store) CreateWorkspace(ctx context.Context, ws store.Workspace, first store.Key, audit ...store.AuditEvent) error {
	if first.WorkspaceID != ws.ID {
		return fmt.Errorf("create workspace %s: first key belongs to workspace %q", ws.ID, first.WorkspaceID)
	}
	overrides, err := encodeJSON(ws.Overrides, len(ws.Overrides), "{}")
	if err != nil {
		return fmt.Errorf("create workspace %s: %w", ws.ID, err)
	}
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO workspaces (`+workspaceColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			ws.ID, ws.Name, ws.Tier, ws.Status, overrides, ts(ws.CreatedAt), ts(ws.UpdatedAt))
		if err != nil {
			return mapErr(err)
		}
		if err := insertKey(ctx, tx, first); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("create workspace %s: %w", ws.ID, err)
	}
	return nil
}

// GetWorkspace returns the workspace, or store.ErrNotFound.
func (s *Store) GetWorkspace(ctx context.Context, id string) (store.Workspace, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+workspaceColumns+` FROM workspaces WHERE id = $1`, id)
	ws, err := scanWorkspace(row)
	if err != nil {
		return store.Workspace{}, fmt.Errorf("get workspace %s: %w", id, mapErr(err))
	}
	return ws, nil
}

// ListWorkspaces returns one page of workspaces ordered by id (never nil).
func (s *Store) ListWorkspaces(ctx context.Context, p store.Page) ([]store.Workspace, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+workspaceColumns+` FROM workspaces
		WHERE id > $1 ORDER BY id LIMIT $2`, p.After, pageLimit(p))
	out, err := collect(rows, err, scanWorkspace)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return out, nil
}

// UpdateWorkspace replaces name, tier, status, overrides and UpdatedAt of
// ws.ID and writes the audit events in the same transaction. Returns
// store.ErrNotFound if absent, store.ErrConflict if the new name is taken.
func (s *Store) UpdateWorkspace(ctx context.Context, ws store.Workspace, audit ...store.AuditEvent) error {
	overrides, err := encodeJSON(ws.Overrides, len(ws.Overrides), "{}")
	if err != nil {
		return fmt.Errorf("update workspace %s: %w", ws.ID, err)
	}
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE workspaces
			SET name = $2, tier = $3, status = $4, overrides = $5, updated_at = $6
			WHERE id = $1`,
			ws.ID, ws.Name, ws.Tier, ws.Status, overrides, ts(ws.UpdatedAt))
		if err != nil {
			return mapErr(err)
		}
		if err := mustAffect(tag); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("update workspace %s: %w", ws.ID, err)
	}
	return nil
}

// DeleteWorkspace deletes the workspace, its keys and its tasks (their
// attempts and events go with them, by ON DELETE CASCADE), and writes the
// audit events, in one transaction. Audit events of the workspace are kept.
// Returns store.ErrNotFound if absent.
func (s *Store) DeleteWorkspace(ctx context.Context, id string, audit ...store.AuditEvent) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM workspaces WHERE id = $1`, id)
		if err != nil {
			return err
		}
		// The workspace existed, so id is not store.OperatorWorkspace: this
		// never touches operator keys.
		if err := mustAffect(tag); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE workspace_id = $1`, id); err != nil {
			return fmt.Errorf("delete keys: %w", err)
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("delete workspace %s: %w", id, err)
	}
	return nil
}
