package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/testutil"
)

// fakeUsage is a UsageWriter that keeps events once per (workspace, id),
// knows which workspaces exist, and can be made to fail.
type fakeUsage struct {
	mu      sync.Mutex
	exists  map[string]bool
	events  map[string]store.UsageEvent
	fail    error
	lostAck error // when set, the events are recorded and this is returned
	batches int
	sizes   []int // events per successful batch
}

func newFakeUsage(workspaces ...string) *fakeUsage {
	f := &fakeUsage{exists: map[string]bool{}, events: map[string]store.UsageEvent{}}
	for _, ws := range workspaces {
		f.exists[ws] = true
	}
	return f
}

func (f *fakeUsage) RecordUsage(_ context.Context, events ...store.UsageEvent) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return 0, f.fail
	}
	for _, e := range events {
		if !f.exists[e.WorkspaceID] {
			return 0, fmt.Errorf("record usage of workspace %s: %w", e.WorkspaceID, store.ErrNotFound)
		}
	}
	f.batches++
	f.sizes = append(f.sizes, len(events))
	n := 0
	for _, e := range events {
		k := e.WorkspaceID + "/" + e.ID
		if _, dup := f.events[k]; !dup {
			f.events[k] = e
			n++
		}
	}
	if f.lostAck != nil {
		return 0, f.lostAck
	}
	return n, nil
}

// calls is ws's recorded API calls.
func (f *fakeUsage) calls(ws string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, e := range f.events {
		if e.WorkspaceID == ws && e.Metric == store.MetricAPICalls {
			n += e.Value
		}
	}
	return n
}

func TestRecorderCountsEachRequestOnce(t *testing.T) {
	st := newFakeUsage("ws_a", "ws_b")
	clk := testutil.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	var flushed [][]string
	r := NewRecorder(RecorderConfig{Store: st, Now: clk.Now, Log: slog.New(slog.DiscardHandler),
		OnFlush: func(ws []string) { flushed = append(flushed, ws) }})
	r.APICall("ws_a", "req_1")
	r.APICall("ws_a", "req_2")
	r.APICall("ws_a", "req_1") // a retry of req_1
	r.APICall("ws_b", "req_3")
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.APICall("ws_a", "req_2") // a retry after the flush
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a, b := st.calls("ws_a"), st.calls("ws_b"); a != 2 || b != 1 {
		t.Fatalf("recorded %d and %d calls, want 2 and 1", a, b)
	}
	if len(flushed) != 1 || len(flushed[0]) != 2 {
		t.Errorf("OnFlush saw %v", flushed)
	}
	if err := r.Flush(context.Background()); err != nil || st.batches != 1 {
		t.Errorf("an empty flush wrote a batch (%d) or failed: %v", st.batches, err)
	}
}

// TestRecorderWritesOneRowPerWorkspace: N calls over a few workspaces are
// one event per workspace in one batch, whose values add up to N; calls
// on either side of an hour go to their own hour's event.
func TestRecorderWritesOneRowPerWorkspace(t *testing.T) {
	st := newFakeUsage("ws_a", "ws_b", "ws_c")
	clk := testutil.NewClock(time.Date(2026, 11, 28, 12, 59, 0, 0, time.UTC))
	r := NewRecorder(RecorderConfig{Store: st, Now: clk.Now, Log: slog.New(slog.DiscardHandler), Replica: "r1"})
	want := map[string]int64{"ws_a": 1000, "ws_b": 10, "ws_c": 1}
	for ws, n := range want {
		for i := range n {
			r.APICall(ws, fmt.Sprint(ws, i))
		}
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.sizes) != 1 || st.sizes[0] != len(want) {
		t.Fatalf("batches of %v events, want one of %d (a row per workspace)", st.sizes, len(want))
	}
	for ws, n := range want {
		if got := st.calls(ws); got != n {
			t.Errorf("%s: %d calls recorded, want %d", ws, got, n)
		}
	}
	for k, e := range st.events {
		if !strings.HasPrefix(e.ID, "api/r1/"+e.WorkspaceID+"/") {
			t.Errorf("event %s: id %q, want api/REPLICA/WORKSPACE/SEQ", k, e.ID)
		}
	}
	r.APICall("ws_a", "before the hour")
	clk.Advance(time.Minute)
	r.APICall("ws_a", "after the hour")
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hours := map[time.Time]int64{}
	for _, e := range st.events {
		if e.WorkspaceID == "ws_a" {
			hours[store.UsageHour(e.At)] += e.Value
		}
	}
	if len(hours) != 2 || hours[time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)] != 1 {
		t.Errorf("ws_a by hour = %v, want 1001 at 12:00 and 1 at 13:00", hours)
	}
}

// TestRecorderRetriesAFailedFlushExactly: a flush that failed is retried
// with the same events, so the calls are neither lost nor counted twice —
// also when the failed write had in fact committed (a lost ack); calls
// made meanwhile go out with the next flush.
func TestRecorderRetriesAFailedFlushExactly(t *testing.T) {
	for _, mode := range []string{"not written", "written, ack lost"} {
		t.Run(mode, func(t *testing.T) {
			st := newFakeUsage("ws_a", "ws_b")
			r := NewRecorder(RecorderConfig{Store: st, Log: slog.New(slog.DiscardHandler)})
			for i := range 5 {
				r.APICall("ws_a", fmt.Sprint("req_", i))
			}
			r.APICall("ws_b", "req_b")
			down := errors.New("store down")
			if mode == "not written" {
				st.fail = down
			} else {
				st.lostAck = down
			}
			if err := r.Flush(context.Background()); !errors.Is(err, down) {
				t.Fatalf("flush into a failing store: %v", err)
			}
			if r.Pending() != 6 {
				t.Fatalf("pending %d calls after the failure, want 6", r.Pending())
			}
			r.APICall("ws_a", "req_meanwhile")
			st.fail, st.lostAck = nil, nil
			for range 2 { // the retry, then the calls made meanwhile
				if err := r.Flush(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if a, b := st.calls("ws_a"), st.calls("ws_b"); a != 6 || b != 1 || r.Pending() != 0 {
				t.Fatalf("after recovery: %d and %d calls recorded (want 6 and 1), %d pending", a, b, r.Pending())
			}
		})
	}
}

func TestRecorderDropsDeletedWorkspaces(t *testing.T) {
	st := newFakeUsage("ws_a")
	r := NewRecorder(RecorderConfig{Store: st, Log: slog.New(slog.DiscardHandler)})
	r.APICall("ws_gone", "req_1")
	r.APICall("ws_a", "req_2")
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.calls("ws_a") != 1 || r.Pending() != 0 {
		t.Fatalf("ws_a has %d calls, %d pending; want 1 and 0", st.calls("ws_a"), r.Pending())
	}
}

func TestRecorderRateIsTheLastMinute(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	r := NewRecorder(RecorderConfig{Store: newFakeUsage("ws_a"), Now: clk.Now, Log: slog.New(slog.DiscardHandler)})
	for i := range 90 {
		r.APICall("ws_a", fmt.Sprint(i))
		clk.Advance(time.Second)
	}
	// At second 90 the window is the seconds 31..90: the calls of 31..89.
	if got := r.Rate("ws_a"); got != 59 {
		t.Fatalf("rate = %d, want 59", got)
	}
	clk.Advance(30 * time.Second)
	if got := r.Rate("ws_a"); got != 29 {
		t.Fatalf("rate 30 s later = %d, want 29 (61..89)", got)
	}
	clk.Advance(time.Minute)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.Rate("ws_a"); got != 0 || len(r.rates) != 0 {
		t.Fatalf("an idle workspace: rate %d, %d windows kept", got, len(r.rates))
	}
	if r.Rate("ws_never") != 0 {
		t.Fatal("unknown workspace has a rate")
	}
}

func TestRecorderRunFlushesAtTheEnd(t *testing.T) {
	st := newFakeUsage("ws_a")
	r := NewRecorder(RecorderConfig{Store: st, FlushEvery: time.Hour, Log: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	r.APICall("ws_a", "req_1")
	cancel()
	<-done
	if st.calls("ws_a") != 1 {
		t.Fatal("Run did not flush at the end")
	}
}

// TestRecentCallsForgetTheOldestFirst: the recent calls are the last n
// seen, first in first out, told apart by workspace and request id.
func TestRecentCallsForgetTheOldestFirst(t *testing.T) {
	rc := newRecentCalls(3)
	for _, c := range []struct {
		ws, req string
		seen    bool
	}{
		{"ws_a", "req_1", false}, {"ws_a", "req_2", false}, {"ws_b", "req_1", false}, // the same id in another workspace
		{"ws_a", "req_1", true}, {"ws_b", "req_1", true},
		{"ws_a", "req_3", false}, // forgets ws_a/req_1, the oldest
		{"ws_a", "req_2", true},
		{"ws_a", "req_1", false}, // forgets ws_a/req_2
		{"ws_a", "req_2", false},
		{"ws_a", "req_3", true}, {"ws_a", "req_1", true},
		{"ws_a/", "req_1", false}, {"ws_a", "/req_1", false}, // no concatenation ambiguity
	} {
		if got := rc.seen(c.ws, c.req); got != c.seen {
			t.Fatalf("seen(%q, %q) = %v, want %v", c.ws, c.req, got, c.seen)
		}
	}
}
