package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
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
	if err := rowcodec.DecodeJSON(scopes, &k.Scopes); err != nil {
		return store.Key{}, fmt.Errorf("key %s scopes: %w", k.ID, err)
	}
	k.PreviousExpiresAt = utcPtr(prevExpires)
	k.ExpiresAt = utcPtr(expires)
	k.LastUsedAt = utcPtr(lastUsed)
	k.RevokedAt = utcPtr(revokedAt)
	k.CreatedAt = createdAt.UTC()
	return k, nil
}

// InsertKey inserts k; the caller has checked that its workspace exists.
func (x txRows) InsertKey(ctx context.Context, k store.Key) error {
	scopes, err := rowcodec.EncodeJSON(k.Scopes, len(k.Scopes), "[]")
	if err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, err)
	}
	_, err = x.tx.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		k.ID, k.WorkspaceID, k.Name, k.Prefix, k.Hash, rowcodec.NullBytes(k.PreviousHash), nullTS(k.PreviousExpiresAt),
		scopes, nullTS(k.ExpiresAt), nullTS(k.LastUsedAt), nullTS(k.RevokedAt), ts(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert key %s: %w", k.ID, mapErr(err))
	}
	return nil
}

// GetKey returns key id of workspaceID, or store.ErrNotFound.
func (s *Store) GetKey(ctx context.Context, workspaceID, id string) (store.Key, error) {
	row := s.queryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
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
	rows, err := s.query(ctx, `SELECT `+keyColumns+` FROM api_keys
		WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3`, workspaceID, p.After, rowcodec.PageLimit(p))
	out, err := collect(rows, err, scanKey)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// RevokeKey sets the key's RevokedAt to at unless set and returns it.
func (x txRows) RevokeKey(ctx context.Context, workspaceID, id string, at time.Time) (store.Key, error) {
	row := x.tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3)
		WHERE workspace_id = $1 AND id = $2 RETURNING `+keyColumns, workspaceID, id, ts(at))
	k, err := scanKey(row)
	return k, mapErr(err)
}

// RotateKey moves the hash of the key, unless revoked, to its previous
// hash (valid until graceUntil) and sets hash and prefix; found is false
// if no unrevoked key matched.
func (x txRows) RotateKey(ctx context.Context, workspaceID, id string, hash []byte, prefix string, graceUntil time.Time) (store.Key, bool, error) {
	row := x.tx.QueryRow(ctx, `UPDATE api_keys
		SET previous_hash = hash, previous_expires_at = $3, hash = $4, prefix = $5
		WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL
		RETURNING `+keyColumns, workspaceID, id, ts(graceUntil), hash, prefix)
	k, err := scanKey(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Key{}, false, nil
	}
	return k, err == nil, mapErr(err)
}

// KeyRevoked reports whether the key is revoked.
func (x txRows) KeyRevoked(ctx context.Context, workspaceID, id string) (bool, error) {
	var revoked bool
	err := x.tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM api_keys
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id).Scan(&revoked)
	return revoked, mapErr(err)
}

// KeyByHash finds the key whose current hash is hash, or whose previous
// hash is hash and whose grace period ends after now. Revocation and expiry
// are not checked. Returns store.ErrNotFound if there is none.
func (s *Store) KeyByHash(ctx context.Context, hash []byte, now time.Time) (store.Key, error) {
	row := s.queryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
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
	row := s.queryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id)
	k, err := scanKey(row)
	if err != nil {
		return store.Key{}, fmt.Errorf("key by id %s: %w", id, mapErr(err))
	}
	return k, nil
}

// TouchKey sets LastUsedAt to at if it is unset or older than at-minGap.
// An unknown id is no error: there is nothing to touch.
func (s *Store) TouchKey(ctx context.Context, id string, at time.Time, minGap time.Duration) error {
	_, err := s.exec(ctx, `UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)`,
		id, ts(at), ts(at.Add(-minGap)))
	if err != nil {
		return fmt.Errorf("touch key %s: %w", id, err)
	}
	return nil
}
