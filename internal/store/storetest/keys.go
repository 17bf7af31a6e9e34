package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func testCreateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, first := createWorkspace(t, s, "acme")

	k := newKey(ws.ID)
	k.Name = "ci"
	k.Scopes = []string{api.ScopeTasksRead, api.ScopeWorker}
	exp := t0.Add(time.Hour)
	k.ExpiresAt = &exp
	ev := newAudit(ws.ID, "key.created", k.ID)
	must(t, s.CreateKey(ctx, k, ev), "CreateKey")
	got, err := s.GetKey(ctx, ws.ID, k.ID)
	must(t, err, "GetKey")
	checkKey(t, got, k)
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{ev})

	// No scopes read back as no scopes.
	bare := newKey(ws.ID)
	bare.Scopes = nil
	must(t, s.CreateKey(ctx, bare), "CreateKey without scopes")
	got, err = s.GetKey(ctx, ws.ID, bare.ID)
	must(t, err, "GetKey")
	checkKey(t, got, bare)

	// Failures write nothing, audit events included.
	failed := func(what string, bad store.Key, target error) {
		t.Helper()
		ev := newAudit(ws.ID, "key.created", bad.ID)
		wantErr(t, s.CreateKey(ctx, bad, ev), target, "CreateKey with "+what)
		for _, e := range listAudit(t, s, ws.ID) {
			if e.ID == ev.ID {
				t.Errorf("failed CreateKey with %s wrote its audit event", what)
			}
		}
	}
	failed("an unknown workspace", newKey(ids.New(ids.Workspace)), store.ErrNotFound)
	dupHash := newKey(ws.ID)
	dupHash.Hash = first.Hash
	failed("a taken hash", dupHash, store.ErrConflict)
	dupPrev := newKey(ws.ID)
	dupPrev.ID = k.ID
	failed("a taken id", dupPrev, store.ErrConflict)

	got, err = s.GetKey(ctx, ws.ID, first.ID)
	must(t, err, "GetKey")
	checkKey(t, got, first)
}

func testOperatorKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, wsKey := createWorkspace(t, s, "acme")
	op := newKey(store.OperatorWorkspace)
	op.Scopes = []string{api.ScopeAdmin}
	ev := newAudit(store.OperatorWorkspace, "key.created", op.ID)
	must(t, s.CreateKey(ctx, op, ev), "CreateKey for the operator")

	got, err := s.GetKey(ctx, store.OperatorWorkspace, op.ID)
	must(t, err, "GetKey of an operator key")
	checkKey(t, got, op)
	got, err = s.KeyByHash(ctx, op.Hash, t0)
	must(t, err, "KeyByHash of an operator key")
	checkKey(t, got, op)

	keys, err := s.ListKeys(ctx, store.OperatorWorkspace, store.Page{})
	must(t, err, "ListKeys of the operator")
	if len(keys) != 1 || keys[0].ID != op.ID {
		t.Errorf("operator keys = %+v, want only %s", keys, op.ID)
	}
	checkAudit(t, listAudit(t, s, store.OperatorWorkspace), []store.AuditEvent{ev})

	// Operator and workspace keys do not reach each other.
	_, err = s.GetKey(ctx, ws.ID, op.ID)
	wantErr(t, err, store.ErrNotFound, "GetKey of an operator key in a workspace")
	_, err = s.GetKey(ctx, store.OperatorWorkspace, wsKey.ID)
	wantErr(t, err, store.ErrNotFound, "GetKey of a workspace key as operator key")
	_, err = s.RevokeKey(ctx, store.OperatorWorkspace, wsKey.ID, t0)
	wantErr(t, err, store.ErrNotFound, "RevokeKey of a workspace key as operator key")
}

func testTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, keyA := createWorkspace(t, s, "tenant-a")
	b, _ := createWorkspace(t, s, "tenant-b")
	evA := newAudit(a.ID, "key.created", keyA.ID)
	extraA := newKey(a.ID)
	must(t, s.CreateKey(ctx, extraA, evA), "CreateKey")

	_, err := s.GetKey(ctx, b.ID, keyA.ID)
	wantErr(t, err, store.ErrNotFound, "GetKey across tenants")
	_, err = s.RevokeKey(ctx, b.ID, keyA.ID, t0, newAudit(b.ID, "key.revoked", keyA.ID))
	wantErr(t, err, store.ErrNotFound, "RevokeKey across tenants")
	_, err = s.RotateKey(ctx, b.ID, keyA.ID, newHash(), "bk_evil", t0.Add(time.Hour), newAudit(b.ID, "key.rotated", keyA.ID))
	wantErr(t, err, store.ErrNotFound, "RotateKey across tenants")

	keysB, err := s.ListKeys(ctx, b.ID, store.Page{})
	must(t, err, "ListKeys")
	for _, k := range keysB {
		if k.WorkspaceID != b.ID {
			t.Errorf("ListKeys(%s) returned key %s of %s", b.ID, k.ID, k.WorkspaceID)
		}
	}
	if len(keysB) != 1 {
		t.Errorf("ListKeys(%s) returned %d keys, want 1", b.ID, len(keysB))
	}
	if evs := listAudit(t, s, b.ID); len(evs) != 0 {
		t.Errorf("tenant b sees audit events %+v", evs)
	}

	// Tenant a's key is untouched.
	got, err := s.GetKey(ctx, a.ID, keyA.ID)
	must(t, err, "GetKey")
	checkKey(t, got, keyA)
	checkAudit(t, listAudit(t, s, a.ID), []store.AuditEvent{evA})
}

func testListKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, first := createWorkspace(t, s, "acme")
	createWorkspace(t, s, "noise")
	createKey(t, s, store.OperatorWorkspace)
	want := []string{first.ID}
	for i := range 24 {
		k := createKey(t, s, ws.ID)
		if i%5 == 0 {
			_, err := s.RevokeKey(ctx, ws.ID, k.ID, t0)
			must(t, err, "RevokeKey")
		}
		want = append(want, k.ID)
	}
	slices.Sort(want)

	list := func(p store.Page) ([]store.Key, error) { return s.ListKeys(ctx, ws.ID, p) }
	id := func(k store.Key) string { return k.ID }
	if got := paginate(t, 10, list, id); !slices.Equal(got, want) {
		t.Errorf("pages of 10 = %v, want %v (revoked keys included)", got, want)
	}
	all, err := s.ListKeys(ctx, ws.ID, store.Page{})
	must(t, err, "ListKeys with the default limit")
	if len(all) != 25 {
		t.Errorf("default limit returned %d keys, want 25", len(all))
	}
}

func testRevokeKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, k := createWorkspace(t, s, "acme")
	at := t0.Add(time.Minute)
	ev1 := newAudit(ws.ID, "key.revoked", k.ID)
	got, err := s.RevokeKey(ctx, ws.ID, k.ID, at, ev1)
	must(t, err, "RevokeKey")
	want := k
	want.RevokedAt = &at
	checkKey(t, got, want)
	got, err = s.GetKey(ctx, ws.ID, k.ID)
	must(t, err, "GetKey")
	checkKey(t, got, want)

	// Again, later: no error, the first RevokedAt stays.
	ev2 := newAudit(ws.ID, "key.revoked", k.ID)
	got, err = s.RevokeKey(ctx, ws.ID, k.ID, at.Add(time.Hour), ev2)
	must(t, err, "RevokeKey twice")
	checkKey(t, got, want)
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{ev1, ev2})

	// KeyByHash does not check revocation: the caller does.
	got, err = s.KeyByHash(ctx, k.Hash, t0)
	must(t, err, "KeyByHash of a revoked key")
	checkKey(t, got, want)

	_, err = s.RevokeKey(ctx, ws.ID, ids.New(ids.Key), at)
	wantErr(t, err, store.ErrNotFound, "RevokeKey of an unknown key")
}

func testRotateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, k := createWorkspace(t, s, "acme")
	grace := t0.Add(24 * time.Hour)
	newH := newHash()
	ev := newAudit(ws.ID, "key.rotated", k.ID)
	got, err := s.RotateKey(ctx, ws.ID, k.ID, newH, "bk_rotated", grace, ev)
	must(t, err, "RotateKey")
	want := k
	want.Hash, want.Prefix = newH, "bk_rotated"
	want.PreviousHash, want.PreviousExpiresAt = k.Hash, &grace
	checkKey(t, got, want)
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{ev})

	lookup := func(hash []byte, now time.Time) error {
		t.Helper()
		got, err := s.KeyByHash(ctx, hash, now)
		if err == nil {
			checkKey(t, got, want)
		}
		return err
	}
	must(t, lookup(newH, t0), "KeyByHash of the new hash")
	must(t, lookup(newH, grace.Add(time.Hour)), "KeyByHash of the new hash after the grace period")
	must(t, lookup(k.Hash, t0), "KeyByHash of the old hash in the grace period")
	must(t, lookup(k.Hash, grace.Add(-time.Microsecond)), "KeyByHash of the old hash just before grace end")
	wantErr(t, lookup(k.Hash, grace), store.ErrNotFound, "KeyByHash of the old hash at grace end")
	wantErr(t, lookup(k.Hash, grace.Add(time.Hour)), store.ErrNotFound, "KeyByHash of the old hash after grace end")

	// Errors: unknown key, taken hash, revoked key; none changes the key.
	_, err = s.RotateKey(ctx, ws.ID, ids.New(ids.Key), newHash(), "bk_x", grace)
	wantErr(t, err, store.ErrNotFound, "RotateKey of an unknown key")
	other := createKey(t, s, ws.ID)
	_, err = s.RotateKey(ctx, ws.ID, k.ID, other.Hash, "bk_x", grace, newAudit(ws.ID, "key.rotated", k.ID))
	wantErr(t, err, store.ErrConflict, "RotateKey to a taken hash")
	_, err = s.RevokeKey(ctx, ws.ID, k.ID, t0)
	must(t, err, "RevokeKey")
	_, err = s.RotateKey(ctx, ws.ID, k.ID, newHash(), "bk_x", grace, newAudit(ws.ID, "key.rotated", k.ID))
	wantErr(t, err, store.ErrConflict, "RotateKey of a revoked key")
	want.RevokedAt = &t0
	got, err = s.GetKey(ctx, ws.ID, k.ID)
	must(t, err, "GetKey")
	checkKey(t, got, want)
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{ev})
}

func testKeyLookups(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, k := createWorkspace(t, s, "acme")
	got, err := s.KeyByID(ctx, k.ID)
	must(t, err, "KeyByID")
	checkKey(t, got, k)
	got, err = s.KeyByHash(ctx, k.Hash, t0)
	must(t, err, "KeyByHash")
	checkKey(t, got, k)

	_, err = s.KeyByID(ctx, ids.New(ids.Key))
	wantErr(t, err, store.ErrNotFound, "KeyByID of an unknown id")
	_, err = s.KeyByHash(ctx, newHash(), t0)
	wantErr(t, err, store.ErrNotFound, "KeyByHash of an unknown hash")
	_, err = s.GetKey(ctx, k.WorkspaceID, ids.New(ids.Key))
	wantErr(t, err, store.ErrNotFound, "GetKey of an unknown id")
}

func testTouchKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, k := createWorkspace(t, s, "acme")
	gap := time.Minute
	lastUsed := func() *time.Time {
		t.Helper()
		got, err := s.GetKey(ctx, ws.ID, k.ID)
		must(t, err, "GetKey")
		return got.LastUsedAt
	}
	at := t0.Add(time.Hour)
	steps := []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"first use sets it", at, at},
		{"within the gap", at.Add(30 * time.Second), at},
		{"exactly the gap", at.Add(gap), at},
		{"earlier time", at.Add(-time.Hour), at},
		{"past the gap", at.Add(gap + time.Microsecond), at.Add(gap + time.Microsecond)},
		{"long after", at.Add(48 * time.Hour), at.Add(48 * time.Hour)},
	}
	for _, st := range steps {
		must(t, s.TouchKey(ctx, k.ID, st.at, gap), "TouchKey "+st.name)
		want := st.want
		checkTimePtr(t, "LastUsedAt after "+st.name, lastUsed(), &want)
	}

	// A zero gap updates on any later time.
	later := at.Add(48*time.Hour + time.Microsecond)
	must(t, s.TouchKey(ctx, k.ID, later, 0), "TouchKey with no gap")
	checkTimePtr(t, "LastUsedAt with no gap", lastUsed(), &later)

	must(t, s.TouchKey(ctx, ids.New(ids.Key), at, gap), "TouchKey of an unknown key")
}
