package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func testWorkspaceRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws := newWorkspace("acme")
	ws.Tier = "pro"
	ws.Overrides = api.Overrides{api.LimitBurst: 50, api.LimitMonthlySpendMicros: 7_000_000}
	ws.UpdatedAt = t0.Add(time.Second)
	k := newKey(ws.ID)
	k.Scopes = []string{api.ScopeKeysRead, api.ScopeTasksWrite}
	exp := t0.Add(90 * 24 * time.Hour)
	k.ExpiresAt = &exp
	evs := []store.AuditEvent{newAudit(ws.ID, "workspace.created", ws.ID), newAudit(ws.ID, "key.created", k.ID)}
	must(t, s.CreateWorkspace(ctx, ws, k, evs...), "CreateWorkspace")

	got, err := s.GetWorkspace(ctx, ws.ID)
	must(t, err, "GetWorkspace")
	checkWorkspace(t, got, ws)
	gotKey, err := s.GetKey(ctx, ws.ID, k.ID)
	must(t, err, "GetKey of the first key")
	checkKey(t, gotKey, k)
	checkAudit(t, listAudit(t, s, ws.ID), evs)

	// Empty overrides read back empty.
	bare := newWorkspace("bare")
	bare.Overrides = nil
	must(t, s.CreateWorkspace(ctx, bare, newKey(bare.ID)), "CreateWorkspace without overrides")
	got, err = s.GetWorkspace(ctx, bare.ID)
	must(t, err, "GetWorkspace")
	checkWorkspace(t, got, bare)

	_, err = s.GetWorkspace(ctx, newWorkspace("x").ID)
	wantErr(t, err, store.ErrNotFound, "GetWorkspace of an unknown id")
}

func testWorkspaceConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, k := createWorkspace(t, s, "acme")

	// Each failed create must leave nothing behind: no workspace, key or audit event.
	failed := func(what string, bad store.Workspace, badKey store.Key) {
		t.Helper()
		ev := newAudit(bad.ID, "workspace.created", bad.ID)
		err := s.CreateWorkspace(ctx, bad, badKey, ev)
		wantErr(t, err, store.ErrConflict, "CreateWorkspace with "+what)
		if bad.ID != ws.ID {
			_, err = s.GetWorkspace(ctx, bad.ID)
			wantErr(t, err, store.ErrNotFound, "GetWorkspace after failed create with "+what)
			if evs := listAudit(t, s, bad.ID); len(evs) != 0 {
				t.Errorf("failed create with %s wrote audit events %+v", what, evs)
			}
		}
		if badKey.ID != k.ID {
			_, err = s.KeyByID(ctx, badKey.ID)
			wantErr(t, err, store.ErrNotFound, "KeyByID after failed create with "+what)
		}
	}

	dupName := newWorkspace("acme")
	failed("a taken name", dupName, newKey(dupName.ID))

	dupID := newWorkspace("other")
	dupID.ID = ws.ID
	failed("a taken id", dupID, newKey(ws.ID))

	dupHash := newWorkspace("third")
	dupHashKey := newKey(dupHash.ID)
	dupHashKey.Hash = k.Hash
	failed("a taken key hash", dupHash, dupHashKey)

	dupKeyID := newWorkspace("fourth")
	dupKeyIDKey := newKey(dupKeyID.ID)
	dupKeyIDKey.ID = k.ID
	failed("a taken key id", dupKeyID, dupKeyIDKey)

	// The original is untouched.
	got, err := s.GetWorkspace(ctx, ws.ID)
	must(t, err, "GetWorkspace")
	checkWorkspace(t, got, ws)
}

func testListWorkspaces(t *testing.T, s store.Store) {
	ctx := t.Context()
	var want []string
	for i := range 25 {
		ws, _ := createWorkspace(t, s, fmt.Sprintf("ws-%02d", i))
		want = append(want, ws.ID)
	}
	slices.Sort(want)

	list := func(p store.Page) ([]store.Workspace, error) { return s.ListWorkspaces(ctx, p) }
	id := func(ws store.Workspace) string { return ws.ID }
	if got := paginate(t, 10, list, id); !slices.Equal(got, want) {
		t.Errorf("pages of 10 = %v, want %v", got, want)
	}
	if got := paginate(t, 1, list, id); !slices.Equal(got, want) {
		t.Errorf("pages of 1 = %v, want %v", got, want)
	}

	all, err := s.ListWorkspaces(ctx, store.Page{})
	must(t, err, "ListWorkspaces with the default limit")
	if len(all) != 25 {
		t.Errorf("default limit returned %d workspaces, want 25", len(all))
	}
	first, err := s.ListWorkspaces(ctx, store.Page{Limit: 10})
	must(t, err, "ListWorkspaces")
	if len(first) != 10 || first[0].ID != want[0] {
		t.Fatalf("first page: %d rows starting %v, want 10 starting %s", len(first), first, want[0])
	}
	checkWorkspace(t, first[0], all[0])
	rest, err := s.ListWorkspaces(ctx, store.Page{After: want[24]})
	must(t, err, "ListWorkspaces after the last id")
	if len(rest) != 0 {
		t.Errorf("after the last id: %d rows", len(rest))
	}
}

func testUpdateWorkspace(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	ws.Overrides = api.Overrides{api.LimitBurst: 5}
	must(t, s.UpdateWorkspace(ctx, ws), "UpdateWorkspace setting overrides")

	upd := ws
	upd.Name = "acme-renamed"
	upd.Tier = "team"
	upd.Status = api.WorkspaceSuspended
	upd.Overrides = api.Overrides{api.LimitMaxQueuedTasks: 1000}
	upd.UpdatedAt = t0.Add(time.Hour)
	upd.CreatedAt = t0.Add(-time.Hour) // ignored: CreatedAt never changes
	ev := newAudit(ws.ID, "workspace.tier_changed", ws.ID)
	ev.Data = map[string]any{"from": "free", "to": "team"}
	must(t, s.UpdateWorkspace(ctx, upd, ev), "UpdateWorkspace")

	got, err := s.GetWorkspace(ctx, ws.ID)
	must(t, err, "GetWorkspace")
	want := upd
	want.CreatedAt = ws.CreatedAt
	checkWorkspace(t, got, want)
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{ev})

	// Removing every override.
	want.Overrides = nil
	must(t, s.UpdateWorkspace(ctx, want), "UpdateWorkspace clearing overrides")
	got, err = s.GetWorkspace(ctx, ws.ID)
	must(t, err, "GetWorkspace")
	checkWorkspace(t, got, want)

	// Unknown id: ErrNotFound, and its audit events are not written.
	ghost := newWorkspace("ghost")
	err = s.UpdateWorkspace(ctx, ghost, newAudit(ghost.ID, "workspace.updated", ghost.ID))
	wantErr(t, err, store.ErrNotFound, "UpdateWorkspace of an unknown id")
	if evs := listAudit(t, s, ghost.ID); len(evs) != 0 {
		t.Errorf("failed update wrote audit events %+v", evs)
	}

	// A taken name: ErrConflict, nothing changes.
	other, _ := createWorkspace(t, s, "other")
	clash := other
	clash.Name = want.Name
	clash.Tier = "pro"
	err = s.UpdateWorkspace(ctx, clash, newAudit(other.ID, "workspace.updated", other.ID))
	wantErr(t, err, store.ErrConflict, "UpdateWorkspace to a taken name")
	got, err = s.GetWorkspace(ctx, other.ID)
	must(t, err, "GetWorkspace")
	checkWorkspace(t, got, other)
	if evs := listAudit(t, s, other.ID); len(evs) != 0 {
		t.Errorf("failed update wrote audit events %+v", evs)
	}
}

func testDeleteWorkspace(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws := newWorkspace("doomed")
	first := newKey(ws.ID)
	created := newAudit(ws.ID, "workspace.created", ws.ID)
	must(t, s.CreateWorkspace(ctx, ws, first, created), "CreateWorkspace")
	second := createKey(t, s, ws.ID)
	other, otherKey := createWorkspace(t, s, "survivor")
	opKey := createKey(t, s, store.OperatorWorkspace)

	deleted := newAudit(ws.ID, "workspace.deleted", ws.ID)
	must(t, s.DeleteWorkspace(ctx, ws.ID, deleted), "DeleteWorkspace")

	_, err := s.GetWorkspace(ctx, ws.ID)
	wantErr(t, err, store.ErrNotFound, "GetWorkspace after delete")
	for _, k := range []store.Key{first, second} {
		_, err = s.KeyByID(ctx, k.ID)
		wantErr(t, err, store.ErrNotFound, "KeyByID of a deleted workspace's key")
		_, err = s.KeyByHash(ctx, k.Hash, t0)
		wantErr(t, err, store.ErrNotFound, "KeyByHash of a deleted workspace's key")
	}
	keys, err := s.ListKeys(ctx, ws.ID, store.Page{})
	must(t, err, "ListKeys")
	if len(keys) != 0 {
		t.Errorf("deleted workspace still lists keys %+v", keys)
	}
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{created, deleted})

	// Other tenants and operator keys are untouched.
	_, err = s.GetWorkspace(ctx, other.ID)
	must(t, err, "GetWorkspace of another workspace")
	for _, k := range []store.Key{otherKey, opKey} {
		_, err = s.KeyByID(ctx, k.ID)
		must(t, err, "KeyByID of a key outside the deleted workspace")
	}

	err = s.DeleteWorkspace(ctx, ws.ID, newAudit(ws.ID, "workspace.deleted", ws.ID))
	wantErr(t, err, store.ErrNotFound, "DeleteWorkspace twice")
	err = s.DeleteWorkspace(ctx, store.OperatorWorkspace)
	wantErr(t, err, store.ErrNotFound, "DeleteWorkspace of the operator workspace")
	_, err = s.KeyByID(ctx, opKey.ID)
	must(t, err, "KeyByID of an operator key after DeleteWorkspace(\"\")")
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{created, deleted})

	// The name is free again.
	createWorkspace(t, s, "doomed")
}
