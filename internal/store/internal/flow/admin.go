package flow

import (
	"context"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
)

// AdminTx is the row operations on workspaces, keys and audit events.
type AdminTx interface {
	// HoldWorkspace returns store.ErrNotFound unless workspace id exists,
	// and keeps it from being deleted until the transaction ends.
	HoldWorkspace(ctx context.Context, id string) error
	// InsertWorkspace inserts ws.
	InsertWorkspace(ctx context.Context, ws store.Workspace) error
	// UpdateWorkspace replaces name, tier, status, overrides and
	// UpdatedAt of ws.ID; store.ErrNotFound if absent.
	UpdateWorkspace(ctx context.Context, ws store.Workspace) error
	// DeleteWorkspace deletes workspace id, its keys and its tasks;
	// store.ErrNotFound if absent.
	DeleteWorkspace(ctx context.Context, id string) error

	// InsertKey inserts k.
	InsertKey(ctx context.Context, k store.Key) error
	// RevokeKey sets the key's RevokedAt to at unless set and returns it.
	RevokeKey(ctx context.Context, workspaceID, id string, at time.Time) (store.Key, error)
	// RotateKey moves the hash of the key, unless revoked, to its
	// previous hash (valid until graceUntil) and sets hash and prefix;
	// found is false (and err nil) if no unrevoked key matched.
	RotateKey(ctx context.Context, workspaceID, id string, hash []byte, prefix string, graceUntil time.Time) (k store.Key, found bool, err error)
	// KeyRevoked reports whether the key is revoked.
	KeyRevoked(ctx context.Context, workspaceID, id string) (bool, error)

	// InsertAudit inserts e, whose Data is encoded as data.
	InsertAudit(ctx context.Context, e store.AuditEvent, data string) error
}

// InsertAudit writes events inside tx. An event without an id gets a new
// one (ids.Audit). A duplicate id is store.ErrConflict.
func InsertAudit(ctx context.Context, tx AdminTx, events []store.AuditEvent) error {
	for _, e := range events {
		if e.ID == "" {
			e.ID = ids.New(ids.Audit)
		}
		data, err := rowcodec.EncodeJSON(e.Data, len(e.Data), "{}")
		if err == nil {
			err = tx.InsertAudit(ctx, e, data)
		}
		if err != nil {
			return fmt.Errorf("insert audit event %s: %w", e.ID, err)
		}
	}
	return nil
}

// audited runs op and then writes the audit events, in one transaction.
func (run Runner) audited(ctx context.Context, audit []store.AuditEvent, op func(tx Tx) error) error {
	return run(ctx, func(tx Tx) error {
		if err := op(tx); err != nil {
			return err
		}
		return InsertAudit(ctx, tx, audit)
	})
}

// CreateWorkspace writes ws, its first key and the audit events in one
// transaction. first.WorkspaceID must be ws.ID. Returns store.ErrConflict if
// the workspace id or name, or the key id or hash, exists.
func (run Runner) CreateWorkspace(ctx context.Context, ws store.Workspace, first store.Key, audit ...store.AuditEvent) error {
	if first.WorkspaceID != ws.ID {
		return fmt.Errorf("create workspace %s: first key belongs to workspace %q", ws.ID, first.WorkspaceID)
	}
	err := run.audited(ctx, audit, func(tx Tx) error {
		if err := tx.InsertWorkspace(ctx, ws); err != nil {
			return err
		}
		return tx.InsertKey(ctx, first)
	})
	if err != nil {
		return fmt.Errorf("create workspace %s: %w", ws.ID, err)
	}
	return nil
}

// UpdateWorkspace replaces name, tier, status, overrides and UpdatedAt of
// ws.ID and writes the audit events in the same transaction. Returns
// store.ErrNotFound if absent, store.ErrConflict if the new name is taken.
func (run Runner) UpdateWorkspace(ctx context.Context, ws store.Workspace, audit ...store.AuditEvent) error {
	err := run.audited(ctx, audit, func(tx Tx) error { return tx.UpdateWorkspace(ctx, ws) })
	if err != nil {
		return fmt.Errorf("update workspace %s: %w", ws.ID, err)
	}
	return nil
}

// DeleteWorkspace deletes the workspace, its keys and its tasks (their
// attempts and events go with them), and writes the audit events, in one
// transaction. Audit events of the workspace are kept. Returns
// store.ErrNotFound if absent.
func (run Runner) DeleteWorkspace(ctx context.Context, id string, audit ...store.AuditEvent) error {
	err := run.audited(ctx, audit, func(tx Tx) error { return tx.DeleteWorkspace(ctx, id) })
	if err != nil {
		return fmt.Errorf("delete workspace %s: %w", id, err)
	}
	return nil
}

// CreateKey stores k and the audit events in one transaction. Returns
// store.ErrNotFound if k.WorkspaceID names no workspace (operator keys,
// with store.OperatorWorkspace, need none) and store.ErrConflict on a
// duplicate id or hash.
func (run Runner) CreateKey(ctx context.Context, k store.Key, audit ...store.AuditEvent) error {
	err := run.audited(ctx, audit, func(tx Tx) error {
		if k.WorkspaceID != store.OperatorWorkspace {
			if err := tx.HoldWorkspace(ctx, k.WorkspaceID); err != nil {
				return fmt.Errorf("workspace %s: %w", k.WorkspaceID, err)
			}
		}
		return tx.InsertKey(ctx, k)
	})
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	return nil
}

// RevokeKey sets RevokedAt to at unless already set (revoking twice keeps
// the first time and is no error), writes the audit events and returns the
// key. Returns store.ErrNotFound if absent.
func (run Runner) RevokeKey(ctx context.Context, workspaceID, id string, at time.Time, audit ...store.AuditEvent) (store.Key, error) {
	var k store.Key
	err := run.audited(ctx, audit, func(tx Tx) error {
		var err error
		k, err = tx.RevokeKey(ctx, workspaceID, id, at)
		return err
	})
	if err != nil {
		return store.Key{}, fmt.Errorf("revoke key %s: %w", id, err)
	}
	return k, nil
}

// RotateKey replaces the key's hash and prefix; the old hash stays valid
// until graceUntil (replacing any earlier previous hash). Returns
// store.ErrNotFound if absent, store.ErrConflict if the key is revoked or
// hash is taken.
func (run Runner) RotateKey(ctx context.Context, workspaceID, id string, hash []byte, prefix string, graceUntil time.Time, audit ...store.AuditEvent) (store.Key, error) {
	var k store.Key
	err := run.audited(ctx, audit, func(tx Tx) error {
		var (
			found bool
			err   error
		)
		k, found, err = tx.RotateKey(ctx, workspaceID, id, hash, prefix, graceUntil)
		if err != nil || found {
			return err
		}
		// Absent, or revoked: tell them apart.
		revoked, err := tx.KeyRevoked(ctx, workspaceID, id)
		if err == nil && revoked {
			return fmt.Errorf("key is revoked: %w", store.ErrConflict)
		}
		return err
	})
	if err != nil {
		return store.Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	return k, nil
}
