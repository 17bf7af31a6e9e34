// Package store defines baton's persistence contract. Implementations live in
// sqlite/ and postgres/, and both must pass the contract suite in storetest/.
//
// Every method that reads or writes tenant data takes the workspace id and
// uses it in its query, so a caller can never reach another tenant's rows by
// id alone. The exceptions are documented on each: KeyByHash / KeyByID
// (authentication is how the workspace is learnt), and the system's own
// cross-tenant work — ClaimTasks for a shared worker, ExpireLeases (the
// reaper), QueueStats (metrics) and AllUsageTotals (the operator's view).
package store

import (
	"context"
	"errors"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// Errors returned by every Store implementation (wrapped; test with errors.Is).
var (
	// ErrNotFound: no such row in the given workspace.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint (name, id, hash) or a state conflict.
	ErrConflict = errors.New("conflict")
)

// OperatorWorkspace is the workspace id of operator (admin) keys: they belong
// to no tenant.
const OperatorWorkspace = ""

// Workspace is a tenant as stored.
type Workspace struct {
	ID        string
	Name      string
	Tier      string
	Status    string // api.WorkspaceActive or api.WorkspaceSuspended
	Overrides api.Overrides
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Key is an API key as stored: the secret itself is never kept, only its
// HMAC. A rotated key keeps its previous hash valid until PreviousExpiresAt.
type Key struct {
	ID                string
	WorkspaceID       string // OperatorWorkspace for operator keys
	Name              string
	Prefix            string // public: "bk_" + first 8 characters of the secret
	Hash              []byte // HMAC-SHA-256 of the secret under the server secret
	PreviousHash      []byte // nil unless rotated
	PreviousExpiresAt *time.Time
	Scopes            []string
	ExpiresAt         *time.Time
	LastUsedAt        *time.Time
	RevokedAt         *time.Time
	CreatedAt         time.Time
}

// AuditEvent records who did what.
type AuditEvent struct {
	ID          string
	WorkspaceID string // OperatorWorkspace for operator-level events
	Actor       string // key id of the caller, or "system"
	Action      string // key.created, key.revoked, key.rotated, workspace.created, workspace.tier_changed …
	Target      string // id of the object acted on
	RequestID   string
	Data        map[string]any
	CreatedAt   time.Time
}

// Page selects one page of a list ordered by id ascending: rows with an id
// greater than After, at most Limit of them.
type Page struct {
	After string
	Limit int
}

// Store is baton's persistence. All methods are safe for concurrent use.
type Store interface {
	TaskStore
	UsageStore
	AlertStore
	FleetStore
	StepStore

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
	// Close releases the store's connections.
	Close() error

	// CreateWorkspace writes ws, its first key and the audit events in one
	// transaction. ErrConflict if the id or name exists.
	CreateWorkspace(ctx context.Context, ws Workspace, first Key, audit ...AuditEvent) error
	// GetWorkspace returns the workspace, or ErrNotFound.
	GetWorkspace(ctx context.Context, id string) (Workspace, error)
	// ListWorkspaces returns one page of workspaces ordered by id.
	ListWorkspaces(ctx context.Context, p Page) ([]Workspace, error)
	// UpdateWorkspace replaces name, tier, status and overrides of ws.ID
	// (UpdatedAt too) and writes the audit events in the same transaction.
	// ErrNotFound if absent, ErrConflict if the new name is taken.
	UpdateWorkspace(ctx context.Context, ws Workspace, audit ...AuditEvent) error
	// DeleteWorkspace deletes the workspace and everything it owns.
	// ErrNotFound if absent.
	DeleteWorkspace(ctx context.Context, id string, audit ...AuditEvent) error

	// CreateKey stores k and the audit events in one transaction.
	// ErrNotFound if k.WorkspaceID names no workspace; ErrConflict on a
	// duplicate id or hash.
	CreateKey(ctx context.Context, k Key, audit ...AuditEvent) error
	// GetKey returns key id of workspaceID, or ErrNotFound.
	GetKey(ctx context.Context, workspaceID, id string) (Key, error)
	// ListKeys returns one page of workspaceID's keys (revoked ones too), ordered by id.
	ListKeys(ctx context.Context, workspaceID string, p Page) ([]Key, error)
	// RevokeKey sets RevokedAt (if not set yet; revoking twice is no error)
	// and writes the audit events. ErrNotFound if absent.
	RevokeKey(ctx context.Context, workspaceID, id string, at time.Time, audit ...AuditEvent) (Key, error)
	// RotateKey replaces the key's hash and prefix, keeping the old hash
	// valid until graceUntil. ErrNotFound if absent, ErrConflict if revoked.
	RotateKey(ctx context.Context, workspaceID, id string, hash []byte, prefix string, graceUntil time.Time, audit ...AuditEvent) (Key, error)
	// KeyByHash finds the key whose current hash is hash, or whose previous
	// hash is hash and still within its grace period at now. It does not
	// check revocation or expiry: the caller does, to tell them apart.
	KeyByHash(ctx context.Context, hash []byte, now time.Time) (Key, error)
	// KeyByID returns any key by id (used to validate sessions).
	KeyByID(ctx context.Context, id string) (Key, error)
	// TouchKey sets LastUsedAt to at if it is older than at-minGap.
	TouchKey(ctx context.Context, id string, at time.Time, minGap time.Duration) error

	// ListAudit returns one page of workspaceID's audit events, ordered by id.
	ListAudit(ctx context.Context, workspaceID string, p Page) ([]AuditEvent, error)
}
