package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// principal is the authenticated caller of a request.
type principal struct {
	key     store.Key
	session bool // authenticated with a session JWT
	admin   bool // an operator key
	// workspaceID is the workspace the request acts on: the key's own, or
	// the Baton-Workspace header of an operator key ("" = operator level).
	workspaceID string
	// workspace is that workspace (nil at operator level).
	workspace *store.Workspace
}

// touchGap is how stale last_used_at may get before a request updates it;
// it keeps authentication from writing on every request.
const touchGap = time.Minute

func unauthenticated(detail string) *api.Problem {
	return api.NewProblem(api.CodeUnauthenticated, detail)
}

// authFailed counts a failed authentication under reason (one of the
// auth* reasons of metrics.go) and returns its 401.
func (s *Server) authFailed(reason, detail string) *api.Problem {
	s.metrics.authFailures.WithLabelValues(reason).Inc()
	return unauthenticated(detail)
}

// authenticate resolves the request's bearer credential. A key with a bad
// checksum is refused before any store access. Errors: *api.Problem
// (unauthenticated, forbidden, workspace_suspended, not_found) or a store error.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, s.authFailed(authMissing, "missing credential: send Authorization: Bearer <api key or session token>")
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return nil, s.authFailed(authMalformed, "malformed Authorization header: want Bearer <credential>")
	}
	now := s.now()
	p := &principal{}
	if auth.LooksLikeKey(cred) {
		prefix, err := auth.ParseKey(cred)
		if err != nil {
			return nil, s.authFailed(authMalformed, "malformed API key (bad format or checksum)")
		}
		k, err := s.store.KeyByHash(r.Context(), s.hasher.Hash(cred), now)
		if errors.Is(err, store.ErrNotFound) {
			return nil, s.authFailed(authUnknown, "unknown API key")
		} else if err != nil {
			return nil, err
		}
		if (prefix == auth.OperatorPrefix) != (k.WorkspaceID == store.OperatorWorkspace) {
			return nil, s.authFailed(authUnknown, "unknown API key")
		}
		p.key = k
	} else {
		claims, err := s.sessions.Verify(cred)
		if err != nil {
			return nil, s.authFailed(authSession, "invalid or expired session token")
		}
		k, err := s.store.KeyByID(r.Context(), claims.Subject)
		if errors.Is(err, store.ErrNotFound) || (err == nil && k.WorkspaceID != claims.Workspace) {
			return nil, s.authFailed(authSession, "the session's key no longer exists")
		} else if err != nil {
			return nil, err
		}
		p.key, p.session = k, true
	}
	switch {
	case p.key.RevokedAt != nil:
		return nil, s.authFailed(authRevoked, "API key has been revoked")
	case p.key.ExpiresAt != nil && !now.Before(*p.key.ExpiresAt):
		return nil, s.authFailed(authExpired, "API key has expired")
	}
	if p.key.LastUsedAt == nil || now.Sub(*p.key.LastUsedAt) >= touchGap {
		if err := s.store.TouchKey(r.Context(), p.key.ID, now, touchGap); err != nil {
			s.log.Warn("touch key", "request_id", requestID(r.Context()), "key_id", p.key.ID, "err", err)
		}
	}
	if err := s.resolveWorkspace(r, p); err != nil {
		return nil, err
	}
	return p, nil
}

// resolveWorkspace sets the workspace the request acts on.
func (s *Server) resolveWorkspace(r *http.Request, p *principal) error {
	header := r.Header.Get(api.HeaderWorkspace)
	p.admin = p.key.WorkspaceID == store.OperatorWorkspace && auth.Allows(p.key.Scopes, api.ScopeAdmin)
	p.workspaceID = p.key.WorkspaceID
	if p.admin {
		p.workspaceID = header
	} else if header != "" && header != p.key.WorkspaceID {
		return api.NewProblem(api.CodeForbidden, "the Baton-Workspace header needs an operator key")
	}
	if p.workspaceID == store.OperatorWorkspace {
		return nil
	}
	ws, err := s.store.GetWorkspace(r.Context(), p.workspaceID)
	if errors.Is(err, store.ErrNotFound) {
		if p.admin {
			return notFound("workspace", p.workspaceID)
		}
		return s.authFailed(authUnknown, "the key's workspace no longer exists")
	} else if err != nil {
		return err
	}
	if ws.Status == api.WorkspaceSuspended && !p.admin && r.URL.Path != "/v1/me" {
		return api.Errorf(api.CodeWorkspaceSuspended, "workspace %s is suspended", ws.ID)
	}
	p.workspace = &ws
	return nil
}

// authorize checks that p may call a route needing scope.
func (s *Server) authorize(p *principal, scope string) error {
	if scope == anyAuth || auth.Allows(p.key.Scopes, scope) {
		return nil
	}
	if scope == api.ScopeAdmin {
		return api.NewProblem(api.CodeForbidden, "this route needs an operator key")
	}
	return api.Errorf(api.CodeForbidden, "this route needs scope %q; the key has %s", scope, strings.Join(p.key.Scopes, ", "))
}

// needWorkspace refuses a workspace-scoped route at operator level.
func needWorkspace(p *principal) error {
	if p.workspaceID == store.OperatorWorkspace {
		pr := api.NewProblem(api.CodeInvalidRequest, "an operator key must name a workspace with the Baton-Workspace header (CLI: --workspace)")
		pr.Errors = []api.FieldError{{Field: api.HeaderWorkspace, Message: "required with an operator key"}}
		return pr
	}
	return nil
}
