package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// countingStore counts the calls a server makes to its store: calls, every
// call of the workspace, key, audit, usage and alert methods (the task
// methods pass through uncounted: the task engine changes them, and no
// authentication touches them); lookups, those of KeyByHash and KeyByID.
type countingStore struct {
	store.Store
	calls   atomic.Int64
	lookups atomic.Int64
	// usageRows counts the events of RecordUsage calls.
	usageRows atomic.Int64
}

// setupCounting is setup with a countingStore over the server's store.
func setupCounting(t *testing.T) (*bundle, *countingStore) {
	t.Helper()
	var cs *countingStore
	b := setupWith(t, func(cfg *Config) {
		cs = &countingStore{Store: cfg.Store}
		cfg.Store = cs
	})
	return b, cs
}

func (c *countingStore) count() { c.calls.Add(1) }

func (c *countingStore) Ping(ctx context.Context) error { c.count(); return c.Store.Ping(ctx) }

func (c *countingStore) CreateWorkspace(ctx context.Context, ws store.Workspace, first store.Key, audit ...store.AuditEvent) error {
	c.count()
	return c.Store.CreateWorkspace(ctx, ws, first, audit...)
}

func (c *countingStore) GetWorkspace(ctx context.Context, id string) (store.Workspace, error) {
	c.count()
	return c.Store.GetWorkspace(ctx, id)
}

func (c *countingStore) ListWorkspaces(ctx context.Context, p store.Page) ([]store.Workspace, error) {
	c.count()
	return c.Store.ListWorkspaces(ctx, p)
}

func (c *countingStore) UpdateWorkspace(ctx context.Context, ws store.Workspace, audit ...store.AuditEvent) error {
	c.count()
	return c.Store.UpdateWorkspace(ctx, ws, audit...)
}

func (c *countingStore) DeleteWorkspace(ctx context.Context, id string, audit ...store.AuditEvent) error {
	c.count()
	return c.Store.DeleteWorkspace(ctx, id, audit...)
}

func (c *countingStore) CreateKey(ctx context.Context, k store.Key, audit ...store.AuditEvent) error {
	c.count()
	return c.Store.CreateKey(ctx, k, audit...)
}

func (c *countingStore) GetKey(ctx context.Context, workspaceID, id string) (store.Key, error) {
	c.count()
	return c.Store.GetKey(ctx, workspaceID, id)
}

func (c *countingStore) ListKeys(ctx context.Context, workspaceID string, p store.Page) ([]store.Key, error) {
	c.count()
	return c.Store.ListKeys(ctx, workspaceID, p)
}

func (c *countingStore) RevokeKey(ctx context.Context, workspaceID, id string, at time.Time, audit ...store.AuditEvent) (store.Key, error) {
	c.count()
	return c.Store.RevokeKey(ctx, workspaceID, id, at, audit...)
}

func (c *countingStore) RotateKey(ctx context.Context, workspaceID, id string, hash []byte, prefix string, graceUntil time.Time, audit ...store.AuditEvent) (store.Key, error) {
	c.count()
	return c.Store.RotateKey(ctx, workspaceID, id, hash, prefix, graceUntil, audit...)
}

func (c *countingStore) KeyByHash(ctx context.Context, hash []byte, now time.Time) (store.Key, error) {
	c.count()
	c.lookups.Add(1)
	return c.Store.KeyByHash(ctx, hash, now)
}

func (c *countingStore) KeyByID(ctx context.Context, id string) (store.Key, error) {
	c.count()
	c.lookups.Add(1)
	return c.Store.KeyByID(ctx, id)
}

func (c *countingStore) TouchKey(ctx context.Context, id string, at time.Time, minGap time.Duration) error {
	c.count()
	return c.Store.TouchKey(ctx, id, at, minGap)
}

func (c *countingStore) ListAudit(ctx context.Context, workspaceID string, p store.Page) ([]store.AuditEvent, error) {
	c.count()
	return c.Store.ListAudit(ctx, workspaceID, p)
}

func (c *countingStore) RecordUsage(ctx context.Context, events ...store.UsageEvent) (int, error) {
	c.count()
	c.usageRows.Add(int64(len(events)))
	return c.Store.RecordUsage(ctx, events...)
}

func (c *countingStore) UsageTotals(ctx context.Context, workspaceID string, period time.Time) (map[string]int64, error) {
	c.count()
	return c.Store.UsageTotals(ctx, workspaceID, period)
}

func (c *countingStore) UsageSeries(ctx context.Context, workspaceID string, from, to time.Time, granularity string) ([]store.UsagePoint, error) {
	c.count()
	return c.Store.UsageSeries(ctx, workspaceID, from, to, granularity)
}

func (c *countingStore) AllUsageTotals(ctx context.Context, period time.Time) (map[string]map[string]int64, error) {
	c.count()
	return c.Store.AllUsageTotals(ctx, period)
}

func (c *countingStore) RaiseAlert(ctx context.Context, a store.Alert) (bool, error) {
	c.count()
	return c.Store.RaiseAlert(ctx, a)
}

func (c *countingStore) ListAlerts(ctx context.Context, workspaceID string, all bool, p store.Page) ([]store.Alert, error) {
	c.count()
	return c.Store.ListAlerts(ctx, workspaceID, all, p)
}

func (c *countingStore) AckAlert(ctx context.Context, workspaceID, id string, now time.Time) (store.Alert, error) {
	c.count()
	return c.Store.AckAlert(ctx, workspaceID, id, now)
}
