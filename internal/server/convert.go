package server

import (
	"encoding/json"

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

func taskID(t store.Task) string { return t.ID }

func apiTask(t store.Task) api.Task {
	labels := t.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	out := api.Task{
		ID: t.ID, WorkspaceID: t.WorkspaceID, Queue: t.Queue, Status: t.Status, Priority: t.Priority,
		Input: t.Input, Output: t.Output, Error: t.Error, Labels: labels, Attempt: t.Attempt, MaxAttempts: t.MaxAttempts,
		TimeoutSeconds: t.TimeoutSeconds, CreatedAt: t.CreatedAt, StartedAt: t.StartedAt, FinishedAt: t.FinishedAt,
		StatusReason: t.StatusReason, RunAt: t.RunAt, LeaseExpiresAt: t.LeaseExpiresAt, IdempotencyKey: t.IdempotencyKey,
		Usage:    api.TaskUsage{ExecutionMS: t.ExecutionMS, Tokens: t.Tokens, CostMicros: t.CostMicros},
		LogBytes: t.LogBytes, LogsDropped: t.LogsDropped,
	}
	if len(out.Output) == 0 {
		out.Output = json.RawMessage("null")
	}
	return out
}

func apiAttempt(a store.Attempt) api.Attempt {
	return api.Attempt{Number: a.Number, WorkerID: a.WorkerID, Status: a.Status, Error: a.Error, StartedAt: a.StartedAt,
		FinishedAt: a.FinishedAt, Usage: api.TaskUsage{ExecutionMS: a.ExecutionMS, Tokens: a.Tokens, CostMicros: a.CostMicros}}
}
