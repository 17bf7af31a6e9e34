package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// testEventRetention: PruneEvents deletes a workspace's task events and
// raw usage events before a time, at most limit of each per call, and
// nothing else: newer events, other workspaces' events and the usage
// rollups (totals and series) stay exact.
func testEventRetention(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	other, _ := createWorkspace(t, s, "other")
	old := u0.Add(-30 * 24 * time.Hour)
	cutoff := u0.Add(-7 * 24 * time.Hour)

	// Task events: a task made long ago with 5 old log lines, and 2 new.
	in := newTask(ws.ID)
	in.CreatedAt, in.RunAt = old, old
	task := createTask(t, s, in)
	p := params(ws.ID, old)
	claim(t, s, p)
	must(t, appendLogs(ctx, s, ws.ID, task.ID, 1, []string{"1", "2", "3", "4", "5"}, old.Add(time.Second)), "AppendLogs")
	must(t, appendLogs(ctx, s, ws.ID, task.ID, 1, []string{"new 1", "new 2"}, u0), "AppendLogs")
	oin := newTask(other.ID)
	oin.CreatedAt, oin.RunAt = old, old
	otherTask := createTask(t, s, oin)
	before := len(events(t, s, ws.ID, task.ID)) // queued, running, 7 lines
	if before != 9 {
		t.Fatalf("%d events before pruning, want 9", before)
	}

	// Usage: old and new raw events in both workspaces.
	var evs []store.UsageEvent
	for i := range 6 {
		evs = append(evs, usageEvent(ws.ID, fmt.Sprint("old", i), store.MetricAPICalls, 1, old.Add(time.Duration(i)*time.Minute)))
		evs = append(evs, usageEvent(other.ID, fmt.Sprint("old", i), store.MetricAPICalls, 1, old))
	}
	evs = append(evs, usageEvent(ws.ID, "new", store.MetricAPICalls, 1, u0))
	record(t, s, len(evs), evs...)
	totalsOld, err := s.UsageTotals(ctx, ws.ID, old)
	must(t, err, "UsageTotals")
	totalsNow, err := s.UsageTotals(ctx, ws.ID, u0)
	must(t, err, "UsageTotals")
	series, err := s.UsageSeries(ctx, ws.ID, old.Add(-time.Hour), u0.Add(time.Hour), "hour")
	must(t, err, "UsageSeries")

	// Batches of 4: 7 old task events (queued, running, 5 lines) and 7 old
	// usage events (6 API calls and the claim's execution) take two calls,
	// the third deletes nothing.
	want := []store.Pruned{{TaskEvents: 4, UsageEvents: 4}, {TaskEvents: 3, UsageEvents: 3}, {}}
	for i, w := range want {
		got, err := s.PruneEvents(ctx, ws.ID, cutoff, 4)
		must(t, err, "PruneEvents")
		if got != w {
			t.Errorf("PruneEvents call %d = %+v, want %+v", i+1, got, w)
		}
	}
	left, err := s.ListEvents(ctx, ws.ID, task.ID, 0, 100)
	must(t, err, "ListEvents")
	if len(left) != 2 || left[0].Message != "new 1" || left[1].Message != "new 2" || left[0].Seq != 8 {
		t.Errorf("events left %+v, want the two new lines with seqs 8 and 9", left)
	}
	if n := len(events(t, s, other.ID, otherTask.ID)); n != 1 {
		t.Errorf("other workspace's task has %d events, want its 1", n)
	}
	for _, c := range []struct {
		period time.Time
		want   map[string]int64
	}{{old, totalsOld}, {u0, totalsNow}} {
		checkTotals(t, s, ws.ID, c.period, c.want)
	}
	after, err := s.UsageSeries(ctx, ws.ID, old.Add(-time.Hour), u0.Add(time.Hour), "hour")
	must(t, err, "UsageSeries")
	if !reflect.DeepEqual(after, series) {
		t.Errorf("usage series changed by pruning:\n%v\nwant\n%v", after, series)
	}
	// The other workspace's raw events are still there: pruning it now
	// deletes all 6.
	got, err := s.PruneEvents(ctx, other.ID, cutoff, 100)
	must(t, err, "PruneEvents")
	if got.UsageEvents != 6 || got.TaskEvents != 1 {
		t.Errorf("PruneEvents of the other workspace = %+v, want 1 task event and 6 usage events", got)
	}
}
