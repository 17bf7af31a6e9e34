package api

import "time"

// Workspace statuses.
const (
	WorkspaceActive    = "active"
	WorkspaceSuspended = "suspended"
)

// Scopes of API keys (CONTRACT.md). ScopeAll grants every workspace scope;
// ScopeAdmin belongs to operator keys only.
const (
	ScopeKeysRead   = "keys:read"
	ScopeKeysWrite  = "keys:write"
	ScopeTasksRead  = "tasks:read"
	ScopeTasksWrite = "tasks:write"
	ScopeUsageRead  = "usage:read"
	ScopeWorker     = "worker"
	ScopeAll        = "*"
	ScopeAdmin      = "admin"
	// ScopeWorkerAll is the operator scope of a shared worker: the worker
	// routes on every workspace (claims across workspaces, heartbeats,
	// logs and outcomes naming one with Baton-Workspace), and nothing else.
	ScopeWorkerAll = "worker:all"
)

// OperatorScopes are the scopes an operator key may hold: exactly one.
var OperatorScopes = []string{ScopeAdmin, ScopeWorkerAll}

// WorkspaceScopes are the scopes a workspace key may hold.
var WorkspaceScopes = []string{ScopeKeysRead, ScopeKeysWrite, ScopeTasksRead, ScopeTasksWrite, ScopeUsageRead, ScopeWorker, ScopeAll}

// Headers of the API.
const (
	HeaderRequestID      = "X-Request-Id"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderWorkspace      = "Baton-Workspace"
)

// Workspace is a tenant.
type Workspace struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Tier      string    `json:"tier"`
	Status    string    `json:"status"`
	Overrides Overrides `json:"overrides"`
	// Limits are the effective limits: the tier's, with the overrides applied.
	Limits    Limits    `json:"limits"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Key is an API key as the API shows it: never its secret or hash.
type Key struct {
	ID          string     `json:"id"`
	WorkspaceID string     `json:"workspace_id,omitempty"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	Scopes      []string   `json:"scopes"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	CreatedAt   time.Time  `json:"created_at"`
	// Secret is set only in the response that creates or rotates the key.
	Secret string `json:"secret,omitempty"`
	// PreviousExpiresAt is when the secret replaced by the last rotation stops working.
	PreviousExpiresAt *time.Time `json:"previous_expires_at,omitempty"`
}

// Tier is a named set of limits and a price.
type Tier struct {
	Name              string `json:"name"`
	PriceMonthlyMicro int64  `json:"price_monthly_micros"`
	Limits            Limits `json:"limits"`
}

// List is one page of a list response.
type List[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// TokenResponse is the answer of POST /v1/auth/token (the key comes in the
// Authorization header; the request body may be empty).
type TokenResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Me is the answer of GET /v1/me.
type Me struct {
	Workspace *Workspace `json:"workspace"`
	Key       MeKey      `json:"key"`
	Tier      *Tier      `json:"tier"`
}

// MeKey is the credential part of Me.
type MeKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Session is true when the caller used a session JWT rather than the key itself.
	Session bool `json:"session"`
}

// CreateWorkspaceRequest is the body of POST /v1/workspaces.
type CreateWorkspaceRequest struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

// CreateWorkspaceResponse carries the new workspace and its first key, with secret.
type CreateWorkspaceResponse struct {
	Workspace Workspace `json:"workspace"`
	Key       Key       `json:"key"`
}

// UpdateWorkspaceRequest is the body of PATCH /v1/workspaces/{id}. Absent
// fields are left alone. Overrides: a key set to a number sets that override;
// a key set to null removes it (the tier's value applies again).
type UpdateWorkspaceRequest struct {
	Name      *string           `json:"name,omitempty"`
	Tier      *string           `json:"tier,omitempty"`
	Status    *string           `json:"status,omitempty"`
	Overrides map[string]*int64 `json:"overrides,omitempty"`
}

// CreateKeyRequest is the body of POST /v1/keys. ExpiresIn is a duration
// such as "90d", "12h" or "30m"; empty means the key never expires.
type CreateKeyRequest struct {
	Name      string   `json:"name"`
	Scopes    []string `json:"scopes"`
	ExpiresIn string   `json:"expires_in,omitempty"`
}

// RotateKeyRequest is the body of POST /v1/keys/{id}/rotate. Grace is how long
// the old secret keeps working ("24h", "0s"); empty means 24h.
type RotateKeyRequest struct {
	Grace string `json:"grace,omitempty"`
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version,omitempty"`
	Detail  string `json:"detail,omitempty"`
}
