package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
)

const keyColumns = `id, workspace_id, name, prefix, hash, previous_hash, previous_expires_at,
	scopes, expires_at, last_used_at, revoked_at, created_at`

func scanKey(sc scanner) (store.Key, error) {
	var (
		k                                         store.Key
		scopes                                    []byte
		prevExpires, expires, lastUsed, revokedAt *time.Time
		createdAt                                 time.Time
	)
	err := sc.Scan(&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &k.Hash, &k.PreviousHash, &prevExpires,
		&scopes, &expires, &lastUsed, &revokedAt, &createdAt)
	if err != nil {
		return store.Key{}, err
	}
	if err := decodeJSON(scopes, &k.Scopes); err != nil {
		return store.Key{}, fmt.Errorf("key %s scopes: %w", k.ID, err)
	}
	k.PreviousExpiresAt = utcPtr(prevExpires)
	k.ExpiresAt = utcPtr(expires)
	k.LastUsedAt = utcPtr(lastUsed)
	k.RevokedAt = utcPtr(revokedAt)
	k.CreatedAt = createdAt.UTC()
	return k, nil
}

// insertKey inserts k; the caller has checked that its workspace exists.
func insertKey(ctx context.Context, tx pgx.Tx, k store.Key) error {
	scopes, err := encodeJSON(k.Scopes, len(k.Scopes), "[]")
	if err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		k.ID, k.WorkspaceID, k.Name, k.Prefix, k.Hash, nullBytes(k.PreviousHash), nullTS(k.PreviousExpiresAt),
		scopes, nullTS(k.ExpiresAt), nullTS(k.LastUsedAt), nullTS(k.RevokedAt), ts(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, mapErr(err))
	}
	return nil
}

// CreateKey stores k and the audit events in one transaction. Returns
// store.ErrNotFound if k.WorkspaceID names no workspace (operator keys,
// with store.OperatorWorkspace, need none) and store.ErrConflict on a
// duplicate id or hash.
func (s *Store) CreateKey(ctx context.Context, k store.Key, audit ...store.AuditEvent) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if k.WorkspaceID != store.OperatorWorkspace {
			// FOR KEY SHARE holds off a concurrent DeleteWorkspace until
			// this transaction ends, so no key outlives its workspace.
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM workspaces WHERE id = $1 FOR KEY SHARE`, k.WorkspaceID).Scan(&one)
			if err != nil {
				return fmt.Errorf("workspace %s: %w", k.WorkspaceID, mapErr(err))
			}
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	return nil
}

// GetKey returns key id of workspaceID, or store.ErrNotFound.
func (s *Store) GetKey(ctx context.Context, workspaceID, id string) (store.Key, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	k, err := scanKey(row)
	if err != nil {
		return store.Key{}, fmt.Errorf("get key %s: %w", id, mapErr(err))
	}
	return k, nil
}

// ListKeys returns one page of workspaceID's keys, revoked ones too,
// ordered by id (never nil).
func (s *Store) ListKeys(ctx context.Context, workspaceID string, p store.Page) ([]store.Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, p.After, pageLimit(p))
	out, err := collect(rows, err, scanKey)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// RevokeKey sets RevokedAt to at unless already set (revoking twice keeps
// the first time and is no error), writes the audit events and returns the
// key. Returns store.ErrNotFound if absent.
func (s *Store) RevokeKey(ctx context.Context, workspaceID, id string, at time.Time, audit ...store.AuditEvent) (store.Key, error) {
	var k store.Key
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3)
			WHERE workspace_id = $1 AND id = $2 RETURNING `+keyColumns, workspaceID, id, ts(at))
		var err error
		if k, err = scanKey(row); err != nil {
			return mapErr(err)
		}
		return insertAudit(ctx, tx, audit)
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
func (s *Store) RotateKey(ctx context.Context, workspaceID, id string, hash []byte, prefix string, graceUntil time.Time, audit ...store.AuditEvent) (store.Key, error) {
	var k store.Key
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `UPDATE api_keys
			SET previous_hash = hash, previous_expires_at = $3, hash = $4, prefix = $5
			WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL
			RETURNING `+keyColumns, workspaceID, id, ts(graceUntil), hash, prefix)
		var err error
		k, err = scanKey(row)
		if errors.Is(err, pgx.ErrNoRows) {
			// Absent, or revoked: tell them apart.
			var revoked bool
			err = tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM api_keys
				WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&revoked)
			if err == nil && revoked {
				return fmt.Errorf("key is revoked: %w", store.ErrConflict)
			}
		}
		if err != nil {
			return mapErr(err)
		}
		return insertAudit(ctx, tx, audit)
	})
	if err != nil {
		return store.Key{}, fmt.Errorf("rotate key %s: %w", id, err)
	}
	return k, nil
}

// KeyByHash finds the key whose current hash is hash, or whose previous
// hash is hash and whose grace period ends after now. Revocation and expiry
// are not checked. Returns store.ErrNotFound if there is none.
func (s *Store) KeyByHash(ctx context.Context, hash []byte, now time.Time) (store.Key, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE hash = $1 OR (previous_hash = $1 AND previous_expires_at > $2)
		ORDER BY hash = $1 DESC LIMIT 1`, hash, ts(now))
	k, err := scanKey(row)
	if err != nil {
		return store.Key{}, fmt.Errorf("key by hash: %w", mapErr(err))
	}
	return k, nil
}

// KeyByID returns any key by id, whatever its workspace, or store.ErrNotFound.
func (s *Store) KeyByID(ctx context.Context, id string) (store.Key, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id)
	k, err := scanKey(row)
	if err != nil {
		return store.Key{}, fmt.Errorf("key by id %s: %w", id, mapErr(err))
	}
	return k, nil
}

// TouchKey sets LastUsedAt to at if it is unset or older than at-minGap.
// An unknown id is no error: there is nothing to touch.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time, minGap time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)`,
		id, ts(at), ts(at.Add(-minGap)))
	if err != nil {
		return fmt.Errorf("touch key %s: %w", id, err)
	}
	return nil
}
