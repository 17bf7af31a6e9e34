package server

import (
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func (s *Server) apiWorkspace(ws store.Workspace) api.Workspace {
	o := ws.Overrides
	if o == nil {
		o = api.Overrides{}
	}
	return api.Workspace{
		ID: ws.ID, Name: ws.Name, Tier: ws.Tier, Status: ws.Status,
		Overrides: o,
		Limits:    s.tier(ws.Tier).Limits.Apply(ws.Overrides),
		CreatedAt: ws.CreatedAt, UpdatedAt: ws.UpdatedAt,
	}
}

func apiKey(k store.Key) api.Key {
	scopes := k.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return api.Key{
		ID: k.ID, WorkspaceID: k.WorkspaceID, Name: k.Name, Prefix: k.Prefix, Scopes: scopes,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt, CreatedAt: k.CreatedAt,
		PreviousExpiresAt: k.PreviousExpiresAt,
	}
}

func keyID(k store.Key) string              { return k.ID }
func workspaceID(ws store.Workspace) string { return ws.ID }
