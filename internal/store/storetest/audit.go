package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws := newWorkspace("acme")
	var evs []store.AuditEvent
	for i := range 25 {
		ev := newAudit(ws.ID, fmt.Sprintf("test.event_%02d", i), ws.ID)
		ev.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		evs = append(evs, ev)
	}
	evs[0].Data = map[string]any{
		"string": "pro",
		"number": 42.5,
		"bool":   true,
		"null":   nil,
		"list":   []any{"a", 1.0},
		"nested": map[string]any{"from": "free", "to": "team"},
	}
	evs[1].Data = nil
	evs[2].Actor = "key_01jabc"
	must(t, s.CreateWorkspace(ctx, ws, newKey(ws.ID), evs...), "CreateWorkspace")
	other, _ := createWorkspace(t, s, "other")
	must(t, s.UpdateWorkspace(ctx, other, newAudit(other.ID, "workspace.updated", other.ID)), "UpdateWorkspace")

	checkAudit(t, listAudit(t, s, ws.ID), evs)

	var want []string
	for _, ev := range evs {
		want = append(want, ev.ID)
	}
	slices.Sort(want)
	list := func(p store.Page) ([]store.AuditEvent, error) { return s.ListAudit(ctx, ws.ID, p) }
	id := func(ev store.AuditEvent) string { return ev.ID }
	if got := paginate(t, 10, list, id); !slices.Equal(got, want) {
		t.Errorf("pages of 10 = %v, want %v", got, want)
	}
	all, err := s.ListAudit(ctx, ws.ID, store.Page{})
	must(t, err, "ListAudit with the default limit")
	if len(all) != 25 {
		t.Errorf("default limit returned %d events, want 25", len(all))
	}
	none, err := s.ListAudit(ctx, store.OperatorWorkspace, store.Page{})
	must(t, err, "ListAudit of the operator")
	if len(none) != 0 {
		t.Errorf("operator sees workspace audit events %+v", none)
	}
}

// testTimes checks every stored time reads back in UTC, truncated (not
// rounded) to the microsecond, whatever zone it was written in.
func testTimes(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC-7", -7*60*60)
	at := func(d time.Duration, ns int) time.Time {
		return time.Date(2031, 12, 31, 23, 59, 59, ns, zone).Add(d)
	}
	ws := newWorkspace("acme")
	ws.CreatedAt, ws.UpdatedAt = at(0, 999_999_999), at(time.Second, 1)
	k := newKey(ws.ID)
	exp := at(time.Hour, 123_456_789)
	k.CreatedAt, k.ExpiresAt = at(0, 500), &exp
	ev := newAudit(ws.ID, "workspace.created", ws.ID)
	ev.CreatedAt = at(0, 999)
	must(t, s.CreateWorkspace(ctx, ws, k, ev), "CreateWorkspace")

	gotWS, err := s.GetWorkspace(ctx, ws.ID)
	must(t, err, "GetWorkspace")
	checkWorkspace(t, gotWS, ws)
	checkAudit(t, listAudit(t, s, ws.ID), []store.AuditEvent{ev})

	used, revoked, grace := at(2*time.Hour, 7_654_321), at(3*time.Hour, 1_999), at(4*time.Hour, 999_999)
	must(t, s.TouchKey(ctx, k.ID, used, time.Minute), "TouchKey")
	newH := newHash()
	_, err = s.RotateKey(ctx, ws.ID, k.ID, newH, "bk_times", grace)
	must(t, err, "RotateKey")
	_, err = s.RevokeKey(ctx, ws.ID, k.ID, revoked)
	must(t, err, "RevokeKey")
	want := k
	want.Hash, want.Prefix, want.PreviousHash = newH, "bk_times", k.Hash
	want.LastUsedAt, want.RevokedAt, want.PreviousExpiresAt = &used, &revoked, &grace
	got, err := s.KeyByID(ctx, k.ID)
	must(t, err, "KeyByID")
	checkKey(t, got, want)

	// The grace period ends at the truncated time, not the rounded one.
	_, err = s.KeyByHash(ctx, k.Hash, grace.Truncate(time.Microsecond))
	wantErr(t, err, store.ErrNotFound, "KeyByHash at the truncated grace end")
}

// testConcurrentCreateKey creates keys from many goroutines at once: every
// write must succeed (SQLite must serialize writers, not fail with BUSY).
func testConcurrentCreateKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, first := createWorkspace(t, s, "acme")
	const n = 20
	keys := make([]store.Key, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		keys[i] = newKey(ws.ID)
		wg.Go(func() {
			errs[i] = s.CreateKey(ctx, keys[i], newAudit(ws.ID, "key.created", keys[i].ID))
			if errs[i] == nil {
				_, errs[i] = s.GetKey(ctx, ws.ID, keys[i].ID)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	want := []string{first.ID}
	for _, k := range keys {
		want = append(want, k.ID)
	}
	slices.Sort(want)
	got, err := s.ListKeys(ctx, ws.ID, store.Page{})
	must(t, err, "ListKeys")
	var gotIDs []string
	for _, k := range got {
		gotIDs = append(gotIDs, k.ID)
	}
	if !slices.Equal(gotIDs, want) {
		t.Errorf("keys = %v, want %v", gotIDs, want)
	}
	if evs := listAudit(t, s, ws.ID); len(evs) != n {
		t.Errorf("%d audit events, want %d", len(evs), n)
	}
}
