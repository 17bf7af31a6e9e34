package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// ErrInitialized is returned by Init when an operator key exists already.
var ErrInitialized = errors.New("server already initialized: an operator key exists")

// Init creates the first operator key and returns its secret (to be shown
// once). Error: ErrInitialized if any operator key exists.
func Init(ctx context.Context, s store.Store, secret []byte, now time.Time) (string, store.Key, error) {
	keys, err := s.ListKeys(ctx, store.OperatorWorkspace, store.Page{Limit: 1})
	if err != nil {
		return "", store.Key{}, fmt.Errorf("list operator keys: %w", err)
	}
	if len(keys) > 0 {
		return "", store.Key{}, ErrInitialized
	}
	key, err := auth.NewKey(auth.OperatorPrefix)
	if err != nil {
		return "", store.Key{}, err
	}
	k, err := EnsureOperatorKey(ctx, s, secret, key, "operator", now)
	return key, k, err
}

// EnsureOperatorKey makes sure the operator key `key` exists (creating it
// with the given name if not) and is usable. BATON_ADMIN_KEY and `baton dev`
// use it to bootstrap idempotently.
func EnsureOperatorKey(ctx context.Context, s store.Store, secret []byte, key, name string, now time.Time) (store.Key, error) {
	prefix, err := auth.ParseKey(key)
	if err != nil || prefix != auth.OperatorPrefix {
		return store.Key{}, errors.New("operator key must be a well-formed bak_ key (make one with `baton server init`)")
	}
	hash := auth.NewHasher(secret).Hash(key)
	k, err := s.KeyByHash(ctx, hash, now)
	if err == nil {
		if k.RevokedAt != nil {
			return k, fmt.Errorf("operator key %s has been revoked", k.ID)
		}
		return k, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return k, fmt.Errorf("look up operator key: %w", err)
	}
	k = store.Key{ID: ids.NewAt(ids.Key, now), WorkspaceID: store.OperatorWorkspace, Name: name, Prefix: auth.PublicPrefix(key),
		Hash: hash, Scopes: []string{api.ScopeAdmin}, CreatedAt: now.UTC()}
	ev := store.AuditEvent{ID: ids.New(ids.Audit), WorkspaceID: store.OperatorWorkspace, Actor: "system", Action: "key.created",
		Target: k.ID, Data: map[string]any{"name": name, "scopes": k.Scopes, "bootstrap": true}, CreatedAt: now.UTC()}
	if err := s.CreateKey(ctx, k, ev); err != nil {
		return k, fmt.Errorf("create operator key: %w", err)
	}
	return k, nil
}
