package server

import (
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

const (
	defaultGrace = 24 * time.Hour
	maxGrace     = 30 * 24 * time.Hour
)

// Keys routes act on the caller's workspace. An operator key without
// Baton-Workspace acts on operator keys.

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	req, err := decode[api.CreateKeyRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	var errs []api.FieldError
	if req.Name == "" {
		req.Name = "unnamed"
	}
	if utf8.RuneCountInString(req.Name) > 100 || !utf8.ValidString(req.Name) {
		errs = append(errs, api.FieldError{Field: "name", Message: "must be at most 100 characters"})
	}
	scopes := req.Scopes
	if p.workspaceID == store.OperatorWorkspace {
		if len(scopes) == 0 {
			scopes = []string{api.ScopeAdmin}
		}
		if len(scopes) != 1 || !slices.Contains(api.OperatorScopes, scopes[0]) {
			errs = append(errs, api.FieldError{Field: "scopes", Message: `operator keys have exactly one scope, "admin" or "worker:all" (a shared worker); name a workspace (Baton-Workspace) to create a workspace key`})
		}
	} else {
		var serrs []api.FieldError
		scopes, serrs = auth.ValidateScopes(req.Scopes, p.key.Scopes)
		errs = append(errs, serrs...)
	}
	now := s.now()
	var expires *time.Time
	if req.ExpiresIn != "" {
		d, err := api.ParseDuration(req.ExpiresIn)
		if err != nil || d < time.Minute {
			errs = append(errs, api.FieldError{Field: "expires_in", Message: "must be a duration of at least 1m, like 90d, 24h or 30m"})
		} else {
			t := now.Add(d)
			expires = &t
		}
	}
	// A key never outlives the key that made it: without expires_in, or
	// past its creator's expiry, the new key expires with its creator.
	if ce := p.key.ExpiresAt; ce != nil && (expires == nil || expires.After(*ce)) {
		t := *ce
		expires = &t
	}
	if err := validation(errs); err != nil {
		return err
	}
	secret, k, err := s.newKey(p.workspaceID, req.Name, scopes, expires, now)
	if err != nil {
		return err
	}
	if err := s.store.CreateKey(r.Context(), k, s.audit(r, p, p.workspaceID, "key.created", k.ID, map[string]any{"name": k.Name, "scopes": k.Scopes})); err != nil {
		return storeError(err, "workspace", p.workspaceID)
	}
	out := apiKey(k)
	out.Secret = secret
	encode(w, http.StatusCreated, out)
	return nil
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request, p *principal) error {
	pg, err := pageParams(r, "keys", p.workspaceID)
	if err != nil {
		return err
	}
	rows, err := s.store.ListKeys(r.Context(), p.workspaceID, fetchPage(pg))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, page(rows, pg.Limit, "keys", p.workspaceID, keyID, apiKey))
	return nil
}

func (s *Server) handleGetKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	k, err := s.store.GetKey(r.Context(), p.workspaceID, id)
	if err != nil {
		return storeError(err, "key", id)
	}
	encode(w, http.StatusOK, apiKey(k))
	return nil
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	k, err := s.store.RevokeKey(r.Context(), p.workspaceID, id, s.now(), s.audit(r, p, p.workspaceID, "key.revoked", id, nil))
	if err != nil {
		return storeError(err, "key", id)
	}
	s.keys.KeyChanged(r.Context(), id)
	encode(w, http.StatusOK, apiKey(k))
	return nil
}

func (s *Server) handleRotateKey(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	req, err := decode[api.RotateKeyRequest](r, s.cfg.MaxBodyBytes, true)
	if err != nil {
		return err
	}
	grace := defaultGrace
	if req.Grace != "" {
		grace, err = api.ParseDuration(req.Grace)
		if err != nil || grace > maxGrace {
			return validation([]api.FieldError{{Field: "grace", Message: "must be a duration from 0s to 30d, like 24h"}})
		}
	}
	old, err := s.store.GetKey(r.Context(), p.workspaceID, id)
	if err != nil {
		return storeError(err, "key", id)
	}
	if err := mayHandOut(p, old); err != nil {
		return err
	}
	now := s.now()
	secret, fresh, err := s.newKey(p.workspaceID, old.Name, old.Scopes, nil, now)
	if err != nil {
		return err
	}
	k, err := s.store.RotateKey(r.Context(), p.workspaceID, id, fresh.Hash, fresh.Prefix, now.Add(grace),
		s.audit(r, p, p.workspaceID, "key.rotated", id, map[string]any{"grace_seconds": int64(grace.Seconds())}))
	if err != nil {
		if isProblem(storeError(err, "key", id), api.CodeConflict) {
			return api.Errorf(api.CodeConflict, "key %s is revoked and cannot be rotated", id)
		}
		return storeError(err, "key", id)
	}
	s.keys.KeyChanged(r.Context(), id)
	out := apiKey(k)
	out.Secret = secret
	encode(w, http.StatusOK, out)
	return nil
}

// mayHandOut refuses (403) to give the caller a secret of key k that is
// worth more than the caller's own: k must hold no scope the caller lacks
// (the rule of key creation) and must not outlive the caller's key.
// Otherwise a keys:write key could rotate the workspace's "*" key and
// receive its new secret.
func mayHandOut(p *principal, k store.Key) error {
	if p.admin {
		return nil
	}
	if _, errs := auth.ValidateScopes(k.Scopes, p.key.Scopes); len(errs) > 0 {
		return api.Errorf(api.CodeForbidden, "key %s has scopes your key lacks (%s); only a key holding all of them may rotate it", k.ID, strings.Join(k.Scopes, " "))
	}
	if ce := p.key.ExpiresAt; ce != nil && (k.ExpiresAt == nil || k.ExpiresAt.After(*ce)) {
		return api.Errorf(api.CodeForbidden, "key %s outlives your key (which expires %s); rotate it with a key that lives as long", k.ID, ce.UTC().Format(time.RFC3339))
	}
	return nil
}
