package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
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
	if err := rowcodec.DecodeJSON(overrides, &ws.Overrides); err != nil {
		return store.Workspace{}, fmt.Errorf("workspace %s overrides: %w", ws.ID, err)
	}
	ws.CreatedAt = createdAt.UTC()
	ws.UpdatedAt = updatedAt.UTC()
	return ws, nil
}

// InsertWorkspace inserts ws.
func (x txRows) InsertWorkspace(ctx context.Context, ws store.Workspace) error {
	overrides, err := rowcodec.EncodeJSON(ws.Overrides, len(ws.Overrides), "{}")
	if err != nil {
		return err
	}
	_, err = x.tx.Exec(ctx, `INSERT INTO workspaces (`+workspaceColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		ws.ID, ws.Name, ws.Tier, ws.Status, overrides, ts(ws.CreatedAt), ts(ws.UpdatedAt))
	return mapErr(err)
}

// HoldWorkspace returns store.ErrNotFound unless workspace id exists. FOR
// KEY SHARE holds off a concurrent DeleteWorkspace until this transaction
// ends, so that nothing outlives its workspace.
func (x txRows) HoldWorkspace(ctx context.Context, id string) error {
	var one int
	return mapErr(x.tx.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR KEY SHARE`, id).Scan(&one))
}

// GetWorkspace returns the workspace, or store.ErrNotFound.
func (s *Store) GetWorkspace(ctx context.Context, id string) (store.Workspace, error) {
	row := s.queryRow(ctx, `SELECT `+workspaceColumns+` FROM workspaces WHERE id = $1`, id)
	ws, err := scanWorkspace(row)
	if err != nil {
		return store.Workspace{}, fmt.Errorf("get workspace %s: %w", id, mapErr(err))
	}
	return ws, nil
}

// ListWorkspaces returns one page of workspaces ordered by id (never nil).
func (s *Store) ListWorkspaces(ctx context.Context, p store.Page) ([]store.Workspace, error) {
	rows, err := s.query(ctx, `SELECT `+workspaceColumns+` FROM workspaces
		WHERE id > $1 ORDER BY id LIMIT $2`, p.After, rowcodec.PageLimit(p))
	out, err := collect(rows, err, scanWorkspace)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return out, nil
}

// UpdateWorkspace replaces name, tier, status, overrides and UpdatedAt of
// ws.ID; store.ErrNotFound if absent.
func (x txRows) UpdateWorkspace(ctx context.Context, ws store.Workspace) error {
	overrides, err := rowcodec.EncodeJSON(ws.Overrides, len(ws.Overrides), "{}")
	if err != nil {
		return err
	}
	tag, err := x.tx.Exec(ctx, `UPDATE workspaces
		SET name = $2, tier = $3, status = $4, overrides = $5, updated_at = $6
		WHERE id = $1`,
		ws.ID, ws.Name, ws.Tier, ws.Status, overrides, ts(ws.UpdatedAt))
	if err != nil {
		return mapErr(err)
	}
	return mustAffect(tag)
}

// DeleteWorkspace deletes workspace id, its keys and its tasks (their
// attempts and events go with them, by ON DELETE CASCADE); audit events
// are kept. store.ErrNotFound if absent.
func (x txRows) DeleteWorkspace(ctx context.Context, id string) error {
	tag, err := x.tx.Exec(ctx, `DELETE FROM workspaces WHERE id = $1`, id)
	if err != nil {
		return err
	}
	// The workspace existed, so id is not store.OperatorWorkspace: this
	// never touches operator keys.
	if err := mustAffect(tag); err != nil {
		return err
	}
	if _, err := x.tx.Exec(ctx, `DELETE FROM api_keys WHERE workspace_id = $1`, id); err != nil {
		return fmt.Errorf("delete keys: %w", err)
	}
	return nil
}
