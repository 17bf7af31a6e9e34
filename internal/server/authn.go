package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// principal is the authenticated caller of a request.
type principal struct {
	key     store.Key
	session bool // authenticated with a session JWT
	admin   bool // an operator key with scope admin
	// operator: an operator key (admin, or worker:all for a shared
	// worker): it may name any workspace with Baton-Workspace, and a
	// suspended workspace does not refuse it (a shared worker's heartbeat
	// is told to stop instead).
	operator bool
	// workspaceID is the workspace the request acts on: the key's own, or
	// the Baton-Workspace header of an operator key ("" = operator level).
	workspaceID string
	// workspace is that workspace (nil at operator level).
	workspace *store.Workspace
}

// initAuth builds the key cache, its baton_auth_cache_total counter
// (registered on cfg.Metrics: a miss is one store read) and the failing
// addresses' view.
func (s *Server) initAuth() error {
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_auth_cache_total",
		Help: "Key and workspace lookups of authentication, by object and result: hit (from memory) or miss (read from the store)."},
		[]string{"object", "result"})
	counters := map[string][2]prometheus.Counter{}
	for _, o := range []string{auth.ObjectKey, auth.ObjectWorkspace} {
		counters[o] = [2]prometheus.Counter{lookups.WithLabelValues(o, "miss"), lookups.WithLabelValues(o, "hit")}
	}
	if err := s.cfg.Metrics.Register(lookups); err != nil {
		return err
	}
	s.keys = auth.NewCache(auth.CacheConfig{Store: s.store, Bus: s.cfg.AuthBus, TTL: s.cfg.AuthCacheTTL, Now: s.cfg.Now, Log: s.log,
		OnLookup: func(object string, hit bool) {
			i := 0
			if hit {
				i = 1
			}
			counters[object][i].Inc()
		}})
	s.failing = newFailingAddrs()
	return nil
}

func unauthenticated(detail string) *api.Problem {
	return api.NewProblem(api.CodeUnauthenticated, detail)
}

// authFailed counts a failed authentication under reason (one of the
// auth* reasons of metrics.go) and returns its 401.
func (s *Server) authFailed(reason, detail string) *api.Problem {
	s.metrics.authFailures.WithLabelValues(reason).Inc()
	return unauthenticated(detail)
}

// credential is a bearer credential as far as it can be checked without
// any I/O: a key whose format and checksum are right (its hash), or a
// session token whose signature, issuer, audience and times are right.
type credential struct {
	prefix  string // a key's: auth.WorkspacePrefix or auth.OperatorPrefix
	hash    []byte // a key's hash
	session *auth.Claims
}

// parseCredential reads the request's bearer credential. It touches
// neither the store nor the limiter. Errors: an unauthenticated
// *api.Problem (missing, malformed, bad checksum, bad session).
func (s *Server) parseCredential(r *http.Request) (credential, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return credential{}, s.authFailed(authMissing, "missing credential: send Authorization: Bearer <api key or session token>")
	}
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return credential{}, s.authFailed(authMalformed, "malformed Authorization header: want Bearer <credential>")
	}
	if auth.LooksLikeKey(cred) {
		prefix, err := auth.ParseKey(cred)
		if err != nil {
			return credential{}, s.authFailed(authMalformed, "malformed API key (bad format or checksum)")
		}
		return credential{prefix: prefix, hash: s.hasher.Hash(cred)}, nil
	}
	claims, err := s.sessions.Verify(cred)
	if err != nil {
		return credential{}, s.authFailed(authSession, "invalid or expired session token")
	}
	return credential{session: claims}, nil
}

// vouched reports whether c is not a guess, so that the failed-
// authentication lockout of its address does not apply: a session token
// whose signature is right, or a key whose hash the cache has seen belong
// to a real key. Neither reads the store.
func (s *Server) vouched(c credential) bool {
	return c.session != nil || s.keys.Known(c.hash)
}

// authenticate resolves a parsed credential through the key cache (a warm
// request reads nothing from the store) and notes the key's use (written
// later, in batches). Errors: *api.Problem (unauthenticated, forbidden,
// workspace_suspended, not_found) or a store error.
func (s *Server) authenticate(ctx context.Context, r *http.Request, c credential) (*principal, error) {
	now := s.now()
	p := &principal{}
	if c.session == nil {
		k, err := s.keys.KeyByHash(ctx, c.hash, now)
		if errors.Is(err, store.ErrNotFound) {
			return nil, s.authFailed(authUnknown, "unknown API key")
		} else if err != nil {
			return nil, err
		}
		if (c.prefix == auth.OperatorPrefix) != (k.WorkspaceID == store.OperatorWorkspace) {
			return nil, s.authFailed(authUnknown, "unknown API key")
		}
		p.key = k
	} else {
		k, err := s.keys.KeyByID(ctx, c.session.Subject)
		if errors.Is(err, store.ErrNotFound) || (err == nil && k.WorkspaceID != c.session.Workspace) {
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
	s.keys.Touch(p.key.ID, now)
	if err := s.resolveWorkspace(ctx, r, p); err != nil {
		return nil, err
	}
	return p, nil
}

// resolveWorkspace sets the workspace the request acts on.
func (s *Server) resolveWorkspace(ctx context.Context, r *http.Request, p *principal) error {
	header := r.Header.Get(api.HeaderWorkspace)
	p.operator = p.key.WorkspaceID == store.OperatorWorkspace
	p.admin = p.operator && auth.Allows(p.key.Scopes, api.ScopeAdmin)
	p.workspaceID = p.key.WorkspaceID
	if p.operator {
		p.workspaceID = header
	} else if header != "" && header != p.key.WorkspaceID {
		return api.NewProblem(api.CodeForbidden, "the Baton-Workspace header needs an operator key")
	}
	if p.workspaceID == store.OperatorWorkspace {
		return nil
	}
	ws, err := s.keys.Workspace(ctx, p.workspaceID)
	if errors.Is(err, store.ErrNotFound) {
		if p.operator {
			return notFound("workspace", p.workspaceID)
		}
		return s.authFailed(authUnknown, "the key's workspace no longer exists")
	} else if err != nil {
		return err
	}
	if ws.Status == api.WorkspaceSuspended && !p.operator && r.URL.Path != "/v1/me" {
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
