package server

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request, _ *principal) error {
	encode(w, http.StatusOK, api.Health{Status: "ok", Version: s.cfg.Version})
	return nil
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request, _ *principal) error {
	if s.draining.Load() {
		encode(w, http.StatusServiceUnavailable, api.Health{Status: "draining", Version: s.cfg.Version})
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readyz: store unreachable", "err", err)
		encode(w, http.StatusServiceUnavailable, api.Health{Status: "unavailable", Version: s.cfg.Version, Detail: "store unreachable"})
		return nil
	}
	encode(w, http.StatusOK, api.Health{Status: "ok", Version: s.cfg.Version})
	return nil
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.session {
		return api.NewProblem(api.CodeForbidden, "a session token cannot mint another; use the API key")
	}
	if _, err := decode[struct{}](r, s.cfg.MaxBodyBytes, true); err != nil {
		return err
	}
	tok, exp, err := s.sessions.Mint(p.key.ID, p.key.WorkspaceID)
	if err != nil {
		return err
	}
	if p.key.ExpiresAt != nil && p.key.ExpiresAt.Before(exp) {
		// A session never outlives its key: Verify checks the key's expiry
		// on every request, so report the earlier time honestly.
		exp = *p.key.ExpiresAt
	}
	encode(w, http.StatusOK, api.TokenResponse{Token: tok, ExpiresAt: exp})
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, p *principal) error {
	me := api.Me{Key: api.MeKey{ID: p.key.ID, Name: p.key.Name, Scopes: p.key.Scopes, ExpiresAt: p.key.ExpiresAt, Session: p.session}}
	if p.workspace != nil {
		ws := s.apiWorkspace(*p.workspace)
		t := s.tier(ws.Tier)
		me.Workspace, me.Tier = &ws, &t
	}
	encode(w, http.StatusOK, me)
	return nil
}

// meEqual reports whether a and b encode alike: every field of api.Me and
// of what it points at is equal, nil and empty told apart (null and []
// encode differently), times equal in every bit (==, not Equal: the
// location shows in the encoding). TestMeEqualSeesEveryField fails when
// those types gain a field, so that this cannot miss one.
func meEqual(a, b api.Me) bool {
	ka, kb := a.Key, b.Key
	if ka.ID != kb.ID || ka.Name != kb.Name || ka.Session != kb.Session ||
		(ka.Scopes == nil) != (kb.Scopes == nil) || !slices.Equal(ka.Scopes, kb.Scopes) ||
		(ka.ExpiresAt == nil) != (kb.ExpiresAt == nil) || (ka.ExpiresAt != nil && *ka.ExpiresAt != *kb.ExpiresAt) {
		return false
	}
	if (a.Tier == nil) != (b.Tier == nil) || (a.Tier != nil && *a.Tier != *b.Tier) {
		return false
	}
	wa, wb := a.Workspace, b.Workspace
	if wa == nil || wb == nil {
		return wa == wb
	}
	return wa.ID == wb.ID && wa.Name == wb.Name && wa.Tier == wb.Tier && wa.Status == wb.Status &&
		(wa.Overrides == nil) == (wb.Overrides == nil) && maps.Equal(wa.Overrides, wb.Overrides) &&
		wa.Limits == wb.Limits && wa.CreatedAt == wb.CreatedAt && wa.UpdatedAt == wb.UpdatedAt
}

func (s *Server) handleTiers(w http.ResponseWriter, r *http.Request, _ *principal) error {
	out := api.List[api.Tier]{Data: make([]api.Tier, 0, len(s.cfg.Tiers))}
	for _, n := range s.tierNames() {
		out.Data = append(out.Data, s.cfg.Tiers[n])
	}
	sort.SliceStable(out.Data, func(i, j int) bool { return out.Data[i].PriceMonthlyMicro < out.Data[j].PriceMonthlyMicro })
	encode(w, http.StatusOK, out)
	return nil
}
