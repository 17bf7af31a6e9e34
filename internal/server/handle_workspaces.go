package server

import (
	"net/http"
	"regexp"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

var workspaceName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func validateWorkspaceName(name string) []api.FieldError {
	if !workspaceName.MatchString(name) {
		return []api.FieldError{{Field: "name", Message: "must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"}}
	}
	return nil
}

func (s *Server) validateTier(tier string) []api.FieldError {
	if _, ok := s.cfg.Tiers[tier]; !ok {
		return []api.FieldError{{Field: "tier", Message: "unknown tier; one of " + joinNames(s.tierNames())}}
	}
	return nil
}

func (s *Server) handleCreateWorkspace(w http.ResponseWriter, r *http.Request, p *principal) error {
	req, err := decode[api.CreateWorkspaceRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	if req.Tier == "" {
		req.Tier = s.cfg.DefaultTier
	}
	if err := validation(append(validateWorkspaceName(req.Name), s.validateTier(req.Tier)...)); err != nil {
		return err
	}
	now := s.now()
	ws := store.Workspace{ID: ids.NewAt(ids.Workspace, now), Name: req.Name, Tier: req.Tier, Status: api.WorkspaceActive,
		Overrides: api.Overrides{}, CreatedAt: now, UpdatedAt: now}
	secret, k, err := s.newKey(ws.ID, "default", []string{api.ScopeAll}, nil, now)
	if err != nil {
		return err
	}
	err = s.store.CreateWorkspace(r.Context(), ws, k,
		s.audit(r, p, ws.ID, "workspace.created", ws.ID, map[string]any{"name": ws.Name, "tier": ws.Tier}),
		s.audit(r, p, ws.ID, "key.created", k.ID, map[string]any{"name": k.Name, "scopes": k.Scopes}))
	if err != nil {
		if se := storeError(err, "workspace", req.Name); isProblem(se, api.CodeConflict) {
			return api.Errorf(api.CodeConflict, "a workspace named %q exists already", req.Name)
		}
		return err
	}
	key := apiKey(k)
	key.Secret = secret
	encode(w, http.StatusCreated, api.CreateWorkspaceResponse{Workspace: s.apiWorkspace(ws), Key: key})
	return nil
}

func (s *Server) handleListWorkspaces(w http.ResponseWriter, r *http.Request, p *principal) error {
	pg, err := pageParams(r, "workspaces", store.OperatorWorkspace)
	if err != nil {
		return err
	}
	rows, err := s.store.ListWorkspaces(r.Context(), fetchPage(pg))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, page(rows, pg.Limit, "workspaces", store.OperatorWorkspace, workspaceID, s.apiWorkspace))
	return nil
}

// handleGetWorkspace: operators read any workspace; a workspace key reads
// only its own (another id is 404, as if it did not exist).
func (s *Server) handleGetWorkspace(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	if !p.admin && id != p.key.WorkspaceID {
		return notFound("workspace", id)
	}
	ws, err := s.store.GetWorkspace(r.Context(), id)
	if err != nil {
		return storeError(err, "workspace", id)
	}
	encode(w, http.StatusOK, s.apiWorkspace(ws))
	return nil
}

func (s *Server) handleUpdateWorkspace(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	req, err := decode[api.UpdateWorkspaceRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	ws, err := s.store.GetWorkspace(r.Context(), id)
	if err != nil {
		return storeError(err, "workspace", id)
	}
	before := ws
	var errs []api.FieldError
	var events []store.AuditEvent
	if req.Name != nil && *req.Name != ws.Name {
		errs = append(errs, validateWorkspaceName(*req.Name)...)
		events = append(events, s.audit(r, p, id, "workspace.renamed", id, map[string]any{"from": ws.Name, "to": *req.Name}))
		ws.Name = *req.Name
	}
	if req.Tier != nil && *req.Tier != ws.Tier {
		errs = append(errs, s.validateTier(*req.Tier)...)
		events = append(events, s.audit(r, p, id, "workspace.tier_changed", id, map[string]any{"from": ws.Tier, "to": *req.Tier}))
		ws.Tier = *req.Tier
	}
	if req.Status != nil && *req.Status != ws.Status {
		switch *req.Status {
		case api.WorkspaceActive:
			events = append(events, s.audit(r, p, id, "workspace.resumed", id, nil))
		case api.WorkspaceSuspended:
			events = append(events, s.audit(r, p, id, "workspace.suspended", id, nil))
		default:
			errs = append(errs, api.FieldError{Field: "status", Message: "must be active or suspended"})
		}
		ws.Status = *req.Status
	}
	if len(req.Overrides) > 0 {
		next := api.Overrides{}
		for k, v := range ws.Overrides {
			next[k] = v
		}
		set := api.Overrides{}
		for k, v := range req.Overrides {
			if v == nil {
				delete(next, k)
				if !api.IsLimitKey(k) {
					errs = append(errs, api.FieldError{Field: "overrides." + k, Message: "unknown limit"})
				}
				continue
			}
			next[k], set[k] = *v, *v
		}
		errs = append(errs, set.Validate()...)
		events = append(events, s.audit(r, p, id, "workspace.limits_changed", id, map[string]any{"from": ws.Overrides, "to": next}))
		ws.Overrides = next
	}
	if err := validation(errs); err != nil {
		return err
	}
	if len(events) == 0 {
		encode(w, http.StatusOK, s.apiWorkspace(before))
		return nil
	}
	ws.UpdatedAt = s.now()
	if err := s.store.UpdateWorkspace(r.Context(), ws, events...); err != nil {
		if se := storeError(err, "workspace", id); isProblem(se, api.CodeConflict) {
			return api.Errorf(api.CodeConflict, "a workspace named %q exists already", ws.Name)
		} else {
			return se
		}
	}
	s.keys.WorkspaceChanged(r.Context(), id)
	encode(w, http.StatusOK, s.apiWorkspace(ws))
	return nil
}

func (s *Server) handleDeleteWorkspace(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := r.PathValue("id")
	err := s.store.DeleteWorkspace(r.Context(), id, s.audit(r, p, id, "workspace.deleted", id, nil))
	if err != nil {
		return storeError(err, "workspace", id)
	}
	s.keys.WorkspaceChanged(r.Context(), id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// newKey makes a key for workspaceID (operator level when ""), returning
// the secret (to show once) and the stored form.
func (s *Server) newKey(workspaceID, name string, scopes []string, expires *time.Time, now time.Time) (string, store.Key, error) {
	prefix := auth.WorkspacePrefix
	if workspaceID == store.OperatorWorkspace {
		prefix = auth.OperatorPrefix
	}
	secret, err := auth.NewKey(prefix)
	if err != nil {
		return "", store.Key{}, err
	}
	return secret, store.Key{
		ID: ids.NewAt(ids.Key, now), WorkspaceID: workspaceID, Name: name, Prefix: auth.PublicPrefix(secret),
		Hash: s.hasher.Hash(secret), Scopes: scopes, ExpiresAt: expires, CreatedAt: now,
	}, nil
}

// audit builds an audit event by the caller of r.
func (s *Server) audit(r *http.Request, p *principal, workspaceID, action, target string, data map[string]any) store.AuditEvent {
	actor := "system"
	if p != nil {
		actor = p.key.ID
	}
	return store.AuditEvent{ID: ids.New(ids.Audit), WorkspaceID: workspaceID, Actor: actor, Action: action,
		Target: target, RequestID: requestID(r.Context()), Data: data, CreatedAt: s.now()}
}
