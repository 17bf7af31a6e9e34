package storetest

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// usageTests are the contract of store.UsageStore.
var usageTests = []suiteTest{
	{"UsageRecordAndTotals", testUsageRecordAndTotals},
	{"UsageReplayCountsOnce", testUsageReplayCountsOnce},
	{"UsageReplay10000", testUsageReplay10000},
	{"UsageConcurrentReplay", testUsageConcurrentReplay},
	{"UsageBuckets", testUsageBuckets},
	{"UsageSeries", testUsageSeries},
	{"UsageAllTotals", testUsageAllTotals},
	{"UsageTenantIsolation", testUsageTenantIsolation},
	{"UsageInvalid", testUsageInvalid},
	{"UsageUnknownWorkspace", testUsageUnknownWorkspace},
	{"UsageDeleteWorkspace", testUsageDeleteWorkspace},
	{"EventRetention", testEventRetention},
}

// u0 is the usage tests' clock: off UTC, in the middle of an hour.
var u0 = time.Date(2026, 1, 31, 22, 30, 0, 0, time.FixedZone("UTC-3", -3*60*60)) // 2026-02-01 01:30 UTC

func usageEvent(ws, id, metric string, value int64, at time.Time) store.UsageEvent {
	return store.UsageEvent{ID: id, WorkspaceID: ws, Metric: metric, Value: value, At: at}
}

func record(t *testing.T, s store.Store, want int, events ...store.UsageEvent) {
	t.Helper()
	n, err := s.RecordUsage(t.Context(), events...)
	must(t, err, "RecordUsage")
	if n != want {
		t.Fatalf("RecordUsage recorded %d, want %d", n, want)
	}
}

func checkTotals(t *testing.T, s store.Store, ws string, period time.Time, want map[string]int64) {
	t.Helper()
	got, err := s.UsageTotals(t.Context(), ws, period)
	must(t, err, "UsageTotals")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UsageTotals(%s, %v) = %v, want %v", ws, period, got, want)
	}
}

func testUsageRecordAndTotals(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	checkTotals(t, s, ws.ID, u0, map[string]int64{})
	record(t, s, 4,
		usageEvent(ws.ID, "e1", store.MetricAPICalls, 1, u0),
		usageEvent(ws.ID, "e2", store.MetricAPICalls, 1, u0.Add(time.Minute)),
		usageEvent(ws.ID, "e3", store.MetricTokens, 1500, u0),
		store.UsageEvent{ID: "e4", WorkspaceID: ws.ID, Metric: store.MetricCostMicros, Value: 0, At: u0, TaskID: "t1"},
	)
	checkTotals(t, s, ws.ID, u0, map[string]int64{
		store.MetricAPICalls: 2, store.MetricTokens: 1500, store.MetricCostMicros: 0,
	})
	record(t, s, 0) // nothing to record
}

func testUsageReplayCountsOnce(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	evs := []store.UsageEvent{
		usageEvent(ws.ID, "e1", store.MetricExecutionMS, 700, u0),
		usageEvent(ws.ID, "e2", store.MetricTaskExecutions, 1, u0),
	}
	record(t, s, 2, evs...)
	record(t, s, 0, evs...)
	// A retry carrying one old and one new event counts the new one only;
	// a repeat within one call counts once.
	e3 := usageEvent(ws.ID, "e3", store.MetricExecutionMS, 300, u0)
	record(t, s, 1, evs[0], e3, e3)
	want := map[string]int64{store.MetricExecutionMS: 1000, store.MetricTaskExecutions: 1}
	checkTotals(t, s, ws.ID, u0, want)
	got, err := s.UsageSeries(t.Context(), ws.ID, u0, u0.Add(time.Hour), store.GranularityHour)
	must(t, err, "UsageSeries")
	h := u0.UTC().Truncate(time.Hour)
	checkSeries(t, got, []store.UsagePoint{
		pt(h, store.MetricExecutionMS, 1000), pt(h, store.MetricTaskExecutions, 1),
	})
}

// testUsageReplay10000 records 10 000 events spread over two months, then
// replays them all twice: the rollups equal a recount of the events.
func testUsageReplay10000(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	evs := make([]store.UsageEvent, 10000)
	months := map[time.Time]map[string]int64{}
	hours := map[time.Time]map[string]int64{}
	add := func(m map[time.Time]map[string]int64, k time.Time, metric string, v int64) {
		if m[k] == nil {
			m[k] = map[string]int64{}
		}
		m[k][metric] += v
	}
	for i := range evs {
		at := start.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
		e := usageEvent(ws.ID, fmt.Sprintf("ev-%05d", i), store.UsageMetrics[r.IntN(len(store.UsageMetrics))], r.Int64N(1000), at)
		evs[i] = e
		add(months, store.UsagePeriod(at), e.Metric, e.Value)
		add(hours, store.UsageHour(at), e.Metric, e.Value)
	}
	for pass, want := range []int{500, 0, 0} {
		recorded := 0
		for i := 0; i < len(evs); i += 500 {
			n, err := s.RecordUsage(t.Context(), evs[i:i+500]...)
			must(t, err, "RecordUsage")
			recorded += n
		}
		if recorded != want*20 {
			t.Fatalf("pass %d recorded %d events, want %d", pass, recorded, want*20)
		}
	}
	for m, want := range months {
		checkTotals(t, s, ws.ID, m, want)
	}
	got, err := s.UsageSeries(t.Context(), ws.ID, start, start.AddDate(0, 2, 0), store.GranularityHour)
	must(t, err, "UsageSeries")
	n := 0
	for _, p := range got {
		if v := hours[p.Start][p.Metric]; v != p.Value {
			t.Fatalf("hour %v %s = %d, want %d", p.Start, p.Metric, p.Value, v)
		}
	}
	for _, m := range hours {
		n += len(m)
	}
	if len(got) != n {
		t.Fatalf("series has %d hourly points, want %d", len(got), n)
	}
}

// testUsageConcurrentReplay records the same events from several
// goroutines at once, each in its own order: each event counts once.
func testUsageConcurrentReplay(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	evs := make([]store.UsageEvent, 300)
	for i := range evs {
		evs[i] = usageEvent(ws.ID, fmt.Sprintf("ev-%03d", i), store.MetricAPICalls, 1, u0.Add(time.Duration(i)*time.Minute))
	}
	const n = 4
	counts := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		mine := slices.Clone(evs)
		rand.New(rand.NewPCG(uint64(g), 7)).Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
		wg.Go(func() { counts[g], errs[g] = s.RecordUsage(t.Context(), mine...) })
	}
	wg.Wait()
	total := 0
	for g := range n {
		must(t, errs[g], "concurrent RecordUsage")
		total += counts[g]
	}
	if total != len(evs) {
		t.Fatalf("concurrent replays recorded %d events in all, want %d", total, len(evs))
	}
	checkTotals(t, s, ws.ID, u0, map[string]int64{store.MetricAPICalls: int64(len(evs))})
}

// testUsageBuckets checks the edges of hours and months, in UTC whatever
// the events' zone.
func testUsageBuckets(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	jan := time.Date(2026, 1, 31, 23, 59, 59, 999_000_000, time.UTC)
	feb := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	ny := time.FixedZone("UTC-5", -5*60*60)
	record(t, s, 4,
		usageEvent(ws.ID, "a", store.MetricAPICalls, 1, jan),
		usageEvent(ws.ID, "b", store.MetricAPICalls, 10, feb),
		usageEvent(ws.ID, "c", store.MetricAPICalls, 100, feb.Add(-time.Nanosecond).In(ny)), // Jan 31 18:59 local
		usageEvent(ws.ID, "d", store.MetricAPICalls, 1000, feb.In(ny)),                      // Jan 31 19:00 local
	)
	checkTotals(t, s, ws.ID, jan, map[string]int64{store.MetricAPICalls: 101})
	checkTotals(t, s, ws.ID, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), map[string]int64{store.MetricAPICalls: 101})
	checkTotals(t, s, ws.ID, feb, map[string]int64{store.MetricAPICalls: 1010})
	checkTotals(t, s, ws.ID, feb.AddDate(0, 0, 27).In(ny), map[string]int64{store.MetricAPICalls: 1010})
	checkTotals(t, s, ws.ID, feb.AddDate(0, 1, 0), map[string]int64{})
	got, err := s.UsageSeries(t.Context(), ws.ID, jan.Add(-time.Hour), feb.Add(time.Hour), store.GranularityHour)
	must(t, err, "UsageSeries")
	checkSeries(t, got, []store.UsagePoint{
		pt(feb.Add(-time.Hour), store.MetricAPICalls, 101), pt(feb, store.MetricAPICalls, 1010),
	})
}

func testUsageSeries(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	d1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	record(t, s, 6,
		usageEvent(ws.ID, "1", store.MetricTokens, 5, d1.Add(10*time.Minute)),
		usageEvent(ws.ID, "2", store.MetricTokens, 7, d1.Add(5*time.Hour)),
		usageEvent(ws.ID, "3", store.MetricAPICalls, 1, d1.Add(23*time.Hour+59*time.Minute)),
		usageEvent(ws.ID, "4", store.MetricAPICalls, 2, d2),
		usageEvent(ws.ID, "5", store.MetricCostMicros, 9, d2.Add(time.Hour)),
		usageEvent(ws.ID, "6", store.MetricAPICalls, 4, d2.Add(2*time.Hour)),
	)
	series := func(from, to time.Time, g string) []store.UsagePoint {
		t.Helper()
		got, err := s.UsageSeries(t.Context(), ws.ID, from, to, g)
		must(t, err, "UsageSeries "+g)
		return got
	}
	checkSeries(t, series(d1, d2.Add(24*time.Hour), store.GranularityHour), []store.UsagePoint{
		pt(d1, store.MetricTokens, 5),
		pt(d1.Add(5*time.Hour), store.MetricTokens, 7),
		pt(d1.Add(23*time.Hour), store.MetricAPICalls, 1),
		pt(d2, store.MetricAPICalls, 2),
		pt(d2.Add(time.Hour), store.MetricCostMicros, 9),
		pt(d2.Add(2*time.Hour), store.MetricAPICalls, 4),
	})
	// from is truncated to its bucket; to is exclusive.
	checkSeries(t, series(d1.Add(5*time.Hour+30*time.Minute), d2.Add(time.Hour), store.GranularityHour), []store.UsagePoint{
		pt(d1.Add(5*time.Hour), store.MetricTokens, 7),
		pt(d1.Add(23*time.Hour), store.MetricAPICalls, 1),
		pt(d2, store.MetricAPICalls, 2),
	})
	checkSeries(t, series(d1.Add(12*time.Hour), d2.AddDate(0, 0, 1), store.GranularityDay), []store.UsagePoint{
		pt(d1, store.MetricAPICalls, 1),
		pt(d1, store.MetricTokens, 12),
		pt(d2, store.MetricAPICalls, 6),
		pt(d2, store.MetricCostMicros, 9),
	})
	checkSeries(t, series(d2.AddDate(0, 0, 1), d2.AddDate(0, 0, 5), store.GranularityDay), []store.UsagePoint{})
	if _, err := s.UsageSeries(t.Context(), ws.ID, d1, d2, "week"); err == nil {
		t.Fatal("UsageSeries with granularity week: no error")
	}
}

func testUsageAllTotals(t *testing.T, s store.Store) {
	a, _ := createWorkspace(t, s, "a")
	b, _ := createWorkspace(t, s, "b")
	record(t, s, 4,
		usageEvent(a.ID, "1", store.MetricAPICalls, 3, u0),
		usageEvent(b.ID, "1", store.MetricAPICalls, 5, u0),
		usageEvent(b.ID, "2", store.MetricTokens, 8, u0),
		usageEvent(b.ID, "3", store.MetricTokens, 100, u0.AddDate(0, 1, 0)),
	)
	got, err := s.AllUsageTotals(t.Context(), u0)
	must(t, err, "AllUsageTotals")
	want := map[string]map[string]int64{
		a.ID: {store.MetricAPICalls: 3},
		b.ID: {store.MetricAPICalls: 5, store.MetricTokens: 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AllUsageTotals = %v, want %v", got, want)
	}
	got, err = s.AllUsageTotals(t.Context(), u0.AddDate(1, 0, 0))
	must(t, err, "AllUsageTotals of an empty period")
	if got == nil || len(got) != 0 {
		t.Fatalf("AllUsageTotals of an empty period = %#v, want an empty map", got)
	}
}

// testUsageTenantIsolation records events with the same ids in two
// workspaces: each counts, and neither sees the other's.
func testUsageTenantIsolation(t *testing.T, s store.Store) {
	a, _ := createWorkspace(t, s, "a")
	b, _ := createWorkspace(t, s, "b")
	record(t, s, 2,
		usageEvent(a.ID, "same", store.MetricTokens, 1, u0),
		usageEvent(b.ID, "same", store.MetricTokens, 1000, u0),
	)
	checkTotals(t, s, a.ID, u0, map[string]int64{store.MetricTokens: 1})
	checkTotals(t, s, b.ID, u0, map[string]int64{store.MetricTokens: 1000})
	h := store.UsageHour(u0)
	for _, g := range []string{store.GranularityHour, store.GranularityDay} {
		got, err := s.UsageSeries(t.Context(), a.ID, u0.Add(-48*time.Hour), u0.Add(48*time.Hour), g)
		must(t, err, "UsageSeries")
		start := h
		if g == store.GranularityDay {
			start = h.Truncate(24 * time.Hour)
		}
		checkSeries(t, got, []store.UsagePoint{pt(start, store.MetricTokens, 1)})
	}
}

func testUsageInvalid(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	good := usageEvent(ws.ID, "good", store.MetricAPICalls, 1, u0)
	for name, e := range map[string]store.UsageEvent{
		"unknown metric": usageEvent(ws.ID, "x", "gpu_hours", 1, u0),
		"negative value": usageEvent(ws.ID, "x", store.MetricTokens, -1, u0),
		"empty id":       usageEvent(ws.ID, "", store.MetricTokens, 1, u0),
		"zero time":      usageEvent(ws.ID, "x", store.MetricTokens, 1, time.Time{}),
	} {
		n, err := s.RecordUsage(t.Context(), good, e)
		wantErr(t, err, store.ErrInvalidUsage, "RecordUsage with "+name)
		if n != 0 {
			t.Errorf("RecordUsage with %s recorded %d", name, n)
		}
	}
	checkTotals(t, s, ws.ID, u0, map[string]int64{})
}

func testUsageUnknownWorkspace(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	_, err := s.RecordUsage(t.Context(),
		usageEvent(ws.ID, "1", store.MetricAPICalls, 1, u0),
		usageEvent("ws_nope", "1", store.MetricAPICalls, 1, u0))
	wantErr(t, err, store.ErrNotFound, "RecordUsage for an unknown workspace")
	checkTotals(t, s, ws.ID, u0, map[string]int64{})
}

func testUsageDeleteWorkspace(t *testing.T, s store.Store) {
	a, _ := createWorkspace(t, s, "a")
	b, _ := createWorkspace(t, s, "b")
	evs := []store.UsageEvent{
		usageEvent(a.ID, "1", store.MetricAPICalls, 1, u0),
		usageEvent(b.ID, "1", store.MetricAPICalls, 2, u0),
	}
	record(t, s, 2, evs...)
	must(t, s.DeleteWorkspace(t.Context(), a.ID), "DeleteWorkspace")
	checkTotals(t, s, a.ID, u0, map[string]int64{})
	checkTotals(t, s, b.ID, u0, map[string]int64{store.MetricAPICalls: 2})
	got, err := s.UsageSeries(t.Context(), a.ID, u0.Add(-time.Hour), u0.Add(time.Hour), store.GranularityHour)
	must(t, err, "UsageSeries")
	checkSeries(t, got, []store.UsagePoint{})
	all, err := s.AllUsageTotals(t.Context(), u0)
	must(t, err, "AllUsageTotals")
	if _, ok := all[a.ID]; ok || len(all) != 1 {
		t.Fatalf("AllUsageTotals after delete = %v", all)
	}
	// Its events went with it: a replay is refused, not deduplicated.
	_, err = s.RecordUsage(t.Context(), evs[0])
	wantErr(t, err, store.ErrNotFound, "RecordUsage for a deleted workspace")
}

func checkSeries(t *testing.T, got, want []store.UsagePoint) {
	t.Helper()
	if got == nil {
		t.Fatal("UsageSeries returned nil, want an empty slice")
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.Start.Equal(w.Start) && g.Start.Location() == time.UTC && g.Metric == w.Metric && g.Value == w.Value
	}
	if !ok {
		t.Fatalf("UsageSeries:\n got %v\nwant %v", got, want)
	}
}

func pt(start time.Time, metric string, value int64) store.UsagePoint {
	return store.UsagePoint{Start: start, Metric: metric, Value: value}
}
