package storetest

import (
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// alertTests are the contract of store.AlertStore.
var alertTests = []suiteTest{
	{"AlertRoundTrip", testAlertRoundTrip},
	{"AlertDedup", testAlertDedup},
	{"AlertConcurrentRaise", testAlertConcurrentRaise},
	{"AlertListFiltersAndPaging", testAlertListFiltersAndPaging},
	{"AlertAck", testAlertAck},
	{"AlertTenantIsolation", testAlertTenantIsolation},
	{"AlertUnknownWorkspace", testAlertUnknownWorkspace},
	{"AlertInvalid", testAlertInvalid},
	{"AlertDeleteWorkspace", testAlertDeleteWorkspace},
}

func thresholdAlert(ws, metric string, threshold int, period string) store.Alert {
	return store.Alert{
		ID:          ids.NewAt(ids.Alert, t0),
		WorkspaceID: ws,
		Kind:        api.AlertThreshold,
		Metric:      metric,
		Threshold:   threshold,
		Period:      period,
		Value:       812,
		Limit:       1000,
		Message:     "task_executions at 81 % of 1000",
		CreatedAt:   t0,
	}
}

func anomalyAlert(ws, metric string, hour time.Time) store.Alert {
	return store.Alert{
		ID:          ids.NewAt(ids.Alert, t0),
		WorkspaceID: ws,
		Kind:        api.AlertAnomaly,
		Metric:      metric,
		Period:      hour.UTC().Format(time.RFC3339),
		Value:       2412.5,
		Limit:       98.25,
		Message:     "api_calls 2412/h against a baseline of 98/h",
		CreatedAt:   t0,
	}
}

func raise(t *testing.T, s store.Store, a store.Alert, want bool) {
	t.Helper()
	raised, err := s.RaiseAlert(t.Context(), a)
	must(t, err, "RaiseAlert "+a.Kind+" "+a.Metric+" "+a.Period)
	if raised != want {
		t.Fatalf("RaiseAlert %+v: raised = %v, want %v", a, raised, want)
	}
}

func listAlerts(t *testing.T, s store.Store, ws string, all bool) []store.Alert {
	t.Helper()
	got, err := s.ListAlerts(t.Context(), ws, all, store.Page{Limit: 1000})
	must(t, err, "ListAlerts")
	if got == nil {
		t.Fatal("ListAlerts returned nil")
	}
	return got
}

func alertIDs(as []store.Alert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func checkAlert(t *testing.T, got, want store.Alert) {
	t.Helper()
	checkTime(t, "alert CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTimePtr(t, "alert AckedAt", got.AckedAt, want.AckedAt)
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	got.AckedAt, want.AckedAt = nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alert:\n got %+v\nwant %+v", got, want)
	}
}

func testAlertRoundTrip(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	if got := listAlerts(t, s, ws.ID, true); len(got) != 0 {
		t.Fatalf("ListAlerts of a new workspace = %+v", got)
	}
	th := thresholdAlert(ws.ID, api.QuotaTaskExecutions, 80, "2025-03")
	an := anomalyAlert(ws.ID, api.MetricAPICalls, time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC))
	an.Value, an.Limit = 1.0/3, 1e-9 // floats read back exactly
	raise(t, s, th, true)
	raise(t, s, an, true)
	got := listAlerts(t, s, ws.ID, false)
	if len(got) != 2 {
		t.Fatalf("ListAlerts = %d alerts, want 2", len(got))
	}
	checkAlert(t, got[0], an) // newest first
	checkAlert(t, got[1], th)
}

// testAlertDedup: one alert per (kind, metric, threshold, period) of a
// workspace, whatever its id; any part of the key that differs makes a new one.
func testAlertDedup(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	other, _ := createWorkspace(t, s, "other")
	hour := time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC)
	first := thresholdAlert(ws.ID, api.QuotaSpend, 80, "2025-03")
	raise(t, s, first, true)

	again := thresholdAlert(ws.ID, api.QuotaSpend, 80, "2025-03")
	again.Value, again.Message = 999, "later"
	raise(t, s, again, false)
	raise(t, s, first, false) // the very same alert again

	raise(t, s, thresholdAlert(ws.ID, api.QuotaSpend, 100, "2025-03"), true)
	raise(t, s, thresholdAlert(ws.ID, api.QuotaSpend, 80, "2025-04"), true)
	raise(t, s, thresholdAlert(ws.ID, api.QuotaExecutionSeconds, 80, "2025-03"), true)
	raise(t, s, thresholdAlert(other.ID, api.QuotaSpend, 80, "2025-03"), true)
	raise(t, s, anomalyAlert(ws.ID, api.MetricAPICalls, hour), true)
	raise(t, s, anomalyAlert(ws.ID, api.MetricAPICalls, hour), false)
	raise(t, s, anomalyAlert(ws.ID, api.MetricAPICalls, hour.Add(time.Hour)), true)
	raise(t, s, anomalyAlert(ws.ID, api.MetricTokens, hour), true)

	// An acknowledged alert still holds its key.
	_, err := s.AckAlert(t.Context(), ws.ID, first.ID, t0)
	must(t, err, "AckAlert")
	raise(t, s, thresholdAlert(ws.ID, api.QuotaSpend, 80, "2025-03"), false)

	got := listAlerts(t, s, ws.ID, true)
	if len(got) != 7 {
		t.Fatalf("ListAlerts = %d alerts, want 7: %+v", len(got), got)
	}
	kept := got[len(got)-1]
	if kept.ID != first.ID || kept.Value != first.Value || kept.Message != first.Message {
		t.Errorf("the first alert of a key was replaced: %+v", kept)
	}

	// The same id with another key is a conflict, not a duplicate.
	clash := thresholdAlert(ws.ID, api.QuotaSpend, 100, "2025-05")
	clash.ID = first.ID
	_, err = s.RaiseAlert(t.Context(), clash)
	wantErr(t, err, store.ErrConflict, "RaiseAlert with a taken id")
}

func testAlertConcurrentRaise(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	const n = 20
	raised := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		a := anomalyAlert(ws.ID, api.MetricAPICalls, time.Date(2025, 3, 14, 13, 0, 0, 0, time.UTC))
		wg.Go(func() { raised[g], errs[g] = s.RaiseAlert(t.Context(), a) })
	}
	wg.Wait()
	winners := 0
	for g := range n {
		must(t, errs[g], "concurrent RaiseAlert")
		if raised[g] {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent raises of one key reported raised, want 1", winners, n)
	}
	if got := listAlerts(t, s, ws.ID, true); len(got) != 1 {
		t.Fatalf("concurrent raises of one key made %d alerts, want 1", len(got))
	}
}

func testAlertListFiltersAndPaging(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	const n = 7
	var made []string // oldest first
	for i := range n {
		a := anomalyAlert(ws.ID, api.MetricAPICalls, time.Date(2025, 3, 14, i, 0, 0, 0, time.UTC))
		raise(t, s, a, true)
		made = append(made, a.ID)
	}
	for _, i := range []int{1, 4, 5} {
		_, err := s.AckAlert(t.Context(), ws.ID, made[i], t0)
		must(t, err, "AckAlert")
	}
	newestFirst := func(idx ...int) []string {
		var out []string
		for i := n - 1; i >= 0; i-- {
			for _, j := range idx {
				if i == j {
					out = append(out, made[i])
				}
			}
		}
		return out
	}
	allIDs := newestFirst(0, 1, 2, 3, 4, 5, 6)
	openIDs := newestFirst(0, 2, 3, 6)

	for _, tc := range []struct {
		all   bool
		limit int
		want  []string
	}{
		{true, 1, allIDs}, {true, 2, allIDs}, {true, 3, allIDs}, {true, 7, allIDs}, {true, 100, allIDs},
		{false, 1, openIDs}, {false, 2, openIDs}, {false, 4, openIDs}, {false, 100, openIDs},
	} {
		if got := pageAlerts(t, s, ws.ID, tc.all, tc.limit); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pages of %d (all=%v) = %v, want %v", tc.limit, tc.all, got, tc.want)
		}
	}
	// A zero limit is the default page size, not "nothing".
	got, err := s.ListAlerts(t.Context(), ws.ID, true, store.Page{})
	must(t, err, "ListAlerts with a zero page")
	if !reflect.DeepEqual(alertIDs(got), allIDs) {
		t.Errorf("ListAlerts(Page{}) = %v, want %v", alertIDs(got), allIDs)
	}
}

// pageAlerts reads every page of limit alerts, checking that pages are full
// until the last and ids strictly decrease, and returns the ids in order.
func pageAlerts(t *testing.T, s store.Store, ws string, all bool, limit int) []string {
	t.Helper()
	var out []string
	after := ""
	for range 100 {
		page, err := s.ListAlerts(t.Context(), ws, all, store.Page{After: after, Limit: limit})
		must(t, err, "ListAlerts page")
		if len(page) > limit {
			t.Fatalf("page has %d alerts, limit %d", len(page), limit)
		}
		for _, a := range page {
			if after != "" && a.ID >= after {
				t.Fatalf("alert %s after %s: not decreasing", a.ID, after)
			}
			after = a.ID
			out = append(out, a.ID)
		}
		if len(page) < limit {
			return out
		}
	}
	t.Fatal("paging did not end")
	return nil
}

func testAlertAck(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	a := thresholdAlert(ws.ID, api.QuotaExecutionSeconds, 100, "2025-03")
	b := thresholdAlert(ws.ID, api.QuotaExecutionSeconds, 80, "2025-03")
	raise(t, s, a, true)
	raise(t, s, b, true)

	at := t0.Add(time.Minute)
	got, err := s.AckAlert(t.Context(), ws.ID, a.ID, at)
	must(t, err, "AckAlert")
	want := a
	want.AckedAt = &at
	checkAlert(t, got, want)

	// Acknowledging again keeps the first time.
	got, err = s.AckAlert(t.Context(), ws.ID, a.ID, at.Add(time.Hour))
	must(t, err, "AckAlert again")
	checkAlert(t, got, want)

	if open := alertIDs(listAlerts(t, s, ws.ID, false)); !reflect.DeepEqual(open, []string{b.ID}) {
		t.Errorf("unacknowledged alerts = %v, want [%s]", open, b.ID)
	}
	all := listAlerts(t, s, ws.ID, true)
	if len(all) != 2 {
		t.Fatalf("all alerts = %d, want 2", len(all))
	}
	checkAlert(t, all[1], want)
	checkAlert(t, all[0], b)

	_, err = s.AckAlert(t.Context(), ws.ID, ids.New(ids.Alert), at)
	wantErr(t, err, store.ErrNotFound, "AckAlert of an absent alert")
}

// testAlertTenantIsolation: another workspace's alert id reads and acks as
// absent.
func testAlertTenantIsolation(t *testing.T, s store.Store) {
	a, _ := createWorkspace(t, s, "a")
	b, _ := createWorkspace(t, s, "b")
	mine := thresholdAlert(a.ID, api.QuotaSpend, 80, "2025-03")
	raise(t, s, mine, true)

	_, err := s.AckAlert(t.Context(), b.ID, mine.ID, t0)
	wantErr(t, err, store.ErrNotFound, "AckAlert of another workspace's alert")
	_, err = s.AckAlert(t.Context(), store.OperatorWorkspace, mine.ID, t0)
	wantErr(t, err, store.ErrNotFound, "AckAlert with the operator workspace")
	if got := listAlerts(t, s, b.ID, true); len(got) != 0 {
		t.Fatalf("workspace b lists a's alerts: %+v", got)
	}
	// The failed acks changed nothing.
	got := listAlerts(t, s, a.ID, false)
	if len(got) != 1 || got[0].AckedAt != nil {
		t.Fatalf("a's alerts after b's ack = %+v", got)
	}
}

func testAlertUnknownWorkspace(t *testing.T, s store.Store) {
	_, err := s.RaiseAlert(t.Context(), thresholdAlert(ids.New(ids.Workspace), api.QuotaSpend, 80, "2025-03"))
	wantErr(t, err, store.ErrNotFound, "RaiseAlert for an unknown workspace")
	_, err = s.RaiseAlert(t.Context(), thresholdAlert(store.OperatorWorkspace, api.QuotaSpend, 80, "2025-03"))
	wantErr(t, err, store.ErrNotFound, "RaiseAlert for the operator workspace")
	if got := listAlerts(t, s, ids.New(ids.Workspace), true); len(got) != 0 {
		t.Fatalf("ListAlerts of an unknown workspace = %+v", got)
	}
}

func testAlertInvalid(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	for name, mod := range map[string]func(*store.Alert){
		"empty id":             func(a *store.Alert) { a.ID = "" },
		"unknown kind":         func(a *store.Alert) { a.Kind = "spike" },
		"threshold zero":       func(a *store.Alert) { a.Threshold = 0 },
		"anomaly threshold":    func(a *store.Alert) { a.Kind = api.AlertAnomaly },
		"empty metric":         func(a *store.Alert) { a.Metric = "" },
		"empty period":         func(a *store.Alert) { a.Period = "" },
		"NaN value":            func(a *store.Alert) { a.Value = math.NaN() },
		"infinite limit":       func(a *store.Alert) { a.Limit = math.Inf(1) },
		"zero time":            func(a *store.Alert) { a.CreatedAt = time.Time{} },
		"unknown ws & invalid": func(a *store.Alert) { a.WorkspaceID, a.Kind = ids.New(ids.Workspace), "" },
	} {
		a := thresholdAlert(ws.ID, api.QuotaSpend, 80, "2025-03")
		mod(&a)
		_, err := s.RaiseAlert(t.Context(), a)
		wantErr(t, err, store.ErrInvalidAlert, "RaiseAlert with "+name)
	}
	if got := listAlerts(t, s, ws.ID, true); len(got) != 0 {
		t.Fatalf("invalid alerts were stored: %+v", got)
	}
}

// testAlertDeleteWorkspace: a workspace's alerts go with it, so a workspace
// made again with the same id starts with none.
func testAlertDeleteWorkspace(t *testing.T, s store.Store) {
	a, _ := createWorkspace(t, s, "a")
	b, _ := createWorkspace(t, s, "b")
	mine := thresholdAlert(a.ID, api.QuotaSpend, 80, "2025-03")
	theirs := thresholdAlert(b.ID, api.QuotaSpend, 80, "2025-03")
	raise(t, s, mine, true)
	raise(t, s, theirs, true)
	must(t, s.DeleteWorkspace(t.Context(), a.ID), "DeleteWorkspace")

	if got := listAlerts(t, s, a.ID, true); len(got) != 0 {
		t.Fatalf("alerts of a deleted workspace = %+v", got)
	}
	_, err := s.AckAlert(t.Context(), a.ID, mine.ID, t0)
	wantErr(t, err, store.ErrNotFound, "AckAlert of a deleted workspace's alert")
	_, err = s.RaiseAlert(t.Context(), mine)
	wantErr(t, err, store.ErrNotFound, "RaiseAlert for a deleted workspace")
	if got := listAlerts(t, s, b.ID, true); len(got) != 1 || got[0].ID != theirs.ID {
		t.Fatalf("b's alerts after deleting a = %+v", got)
	}

	again := a
	must(t, s.CreateWorkspace(t.Context(), again, newKey(again.ID)), "CreateWorkspace again")
	raise(t, s, mine, true) // the old row is gone: neither its key nor its id is taken
}
