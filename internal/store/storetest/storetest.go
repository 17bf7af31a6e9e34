// Package storetest is the contract suite every store.Store implementation
// must pass. An implementation's test calls Run with a function that opens a
// fresh, empty, migrated store:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := openAndMigrate(t)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Run runs the contract suite. Every subtest calls open for its own store
// and runs in parallel with the others; open must register the store's
// cleanup with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []suiteTest{
		{"Ping", testPing},
		{"MigrateTwice", testMigrateTwice},
		{"WorkspaceRoundTrip", testWorkspaceRoundTrip},
		{"WorkspaceConflict", testWorkspaceConflict},
		{"ListWorkspaces", testListWorkspaces},
		{"UpdateWorkspace", testUpdateWorkspace},
		{"DeleteWorkspace", testDeleteWorkspace},
		{"CreateKey", testCreateKey},
		{"OperatorKeys", testOperatorKeys},
		{"TenantIsolation", testTenantIsolation},
		{"ListKeys", testListKeys},
		{"RevokeKey", testRevokeKey},
		{"RotateKey", testRotateKey},
		{"KeyLookups", testKeyLookups},
		{"TouchKey", testTouchKey},
		{"Audit", testAudit},
		{"TimesUTCMicroseconds", testTimes},
		{"ConcurrentCreateKey", testConcurrentCreateKey},
	}
	for _, tc := range slices.Concat(tests, taskTests, usageTests, taskUsageTests, alertTests, fleetTests) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// suiteTest is one test of the suite.
type suiteTest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// t0 is the suite's clock: off UTC and with nanoseconds, so that stores
// must convert to UTC and truncate to microseconds. Truncating gives …535897,
// rounding would give …535898.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("UTC+2", 2*60*60))

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// testMigrateTwice applies the migrations again to a migrated store, if the
// store has a Migrate method, and checks the store still works.
func testMigrateTwice(t *testing.T, s store.Store) {
	m, ok := s.(interface{ Migrate(context.Context) error })
	if !ok {
		t.Skip("store has no Migrate(ctx) method")
	}
	ws, _ := createWorkspace(t, s, "before")
	for range 2 {
		if err := m.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	}
	if _, err := s.GetWorkspace(t.Context(), ws.ID); err != nil {
		t.Fatalf("GetWorkspace after Migrate: %v", err)
	}
	createWorkspace(t, s, "after")
}

// Fixtures.

func newWorkspace(name string) store.Workspace {
	return store.Workspace{
		ID:        ids.New(ids.Workspace),
		Name:      name,
		Tier:      "free",
		Status:    api.WorkspaceActive,
		Overrides: api.Overrides{},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func newKey(workspaceID string) store.Key {
	return store.Key{
		ID:          ids.New(ids.Key),
		WorkspaceID: workspaceID,
		Name:        "default",
		Prefix:      "bk_" + hex.EncodeToString(newHash()[:4]),
		Hash:        newHash(),
		Scopes:      []string{api.ScopeAll},
		CreatedAt:   t0,
	}
}

func newHash() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func newAudit(workspaceID, action, target string) store.AuditEvent {
	return store.AuditEvent{
		ID:          ids.New(ids.Audit),
		WorkspaceID: workspaceID,
		Actor:       "system",
		Action:      action,
		Target:      target,
		RequestID:   ids.New(ids.Request),
		Data:        map[string]any{"target": target},
		CreatedAt:   t0,
	}
}

// createWorkspace creates a workspace named name with its first key.
func createWorkspace(t testing.TB, s store.Store, name string) (store.Workspace, store.Key) {
	t.Helper()
	ws := newWorkspace(name)
	k := newKey(ws.ID)
	if err := s.CreateWorkspace(t.Context(), ws, k); err != nil {
		t.Fatalf("CreateWorkspace %s: %v", name, err)
	}
	return ws, k
}

// createKey creates a new key in workspaceID.
func createKey(t *testing.T, s store.Store, workspaceID string) store.Key {
	t.Helper()
	k := newKey(workspaceID)
	if err := s.CreateKey(t.Context(), k); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return k
}

// Assertions.

func must(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

// checkTime checks got is want truncated to the microsecond, in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	w := want.Truncate(time.Microsecond)
	if !got.Equal(w) || got.Location() != time.UTC {
		t.Errorf("%s = %v, want %v in UTC", what, got, w.UTC())
	}
}

func checkTimePtr(t *testing.T, what string, got, want *time.Time) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, got, want)
	default:
		checkTime(t, what, *got, *want)
	}
}

func checkWorkspace(t *testing.T, got, want store.Workspace) {
	t.Helper()
	checkTime(t, "workspace CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, "workspace UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	for _, w := range []*store.Workspace{&got, &want} {
		w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}
		if len(w.Overrides) == 0 {
			w.Overrides = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("workspace:\n got %+v\nwant %+v", got, want)
	}
}

func checkKey(t *testing.T, got, want store.Key) {
	t.Helper()
	checkTime(t, "key CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTimePtr(t, "key PreviousExpiresAt", got.PreviousExpiresAt, want.PreviousExpiresAt)
	checkTimePtr(t, "key ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	checkTimePtr(t, "key LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	checkTimePtr(t, "key RevokedAt", got.RevokedAt, want.RevokedAt)
	for _, k := range []*store.Key{&got, &want} {
		k.CreatedAt = time.Time{}
		k.PreviousExpiresAt, k.ExpiresAt, k.LastUsedAt, k.RevokedAt = nil, nil, nil, nil
		if len(k.Scopes) == 0 {
			k.Scopes = nil
		}
		if len(k.PreviousHash) == 0 {
			k.PreviousHash = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("key:\n got %+v\nwant %+v", got, want)
	}
}

func checkAudit(t *testing.T, got, want []store.AuditEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d audit events, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		checkTime(t, "audit CreatedAt", g.CreatedAt, w.CreatedAt)
		g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
		if len(g.Data) == 0 {
			g.Data = nil
		}
		if len(w.Data) == 0 {
			w.Data = nil
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("audit event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

// listAudit returns all of workspaceID's audit events.
func listAudit(t *testing.T, s store.Store, workspaceID string) []store.AuditEvent {
	t.Helper()
	evs, err := s.ListAudit(t.Context(), workspaceID, store.Page{Limit: 1000})
	must(t, err, "ListAudit")
	return evs
}

// paginate reads every page of limit rows from list and checks that pages
// are full until the last, ids strictly increase, and the page after the
// last is empty. It returns the ids in order.
func paginate[T any](t *testing.T, limit int, list func(store.Page) ([]T, error), id func(T) string) []string {
	t.Helper()
	var out []string
	after := ""
	for {
		page, err := list(store.Page{After: after, Limit: limit})
		must(t, err, "list page")
		if len(page) > limit {
			t.Fatalf("page has %d rows, limit %d", len(page), limit)
		}
		for _, v := range page {
			if i := id(v); i <= after {
				t.Fatalf("id %s after %s: not increasing", i, after)
			} else {
				after = i
			}
			out = append(out, after)
		}
		if len(page) < limit {
			if len(page) == 0 {
				return out
			}
			rest, err := list(store.Page{After: after, Limit: limit})
			must(t, err, "list after last page")
			if len(rest) != 0 {
				t.Fatalf("short page of %d rows followed by %d more", len(page), len(rest))
			}
			return out
		}
	}
}
