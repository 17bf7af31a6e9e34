package metering

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// fakeUsage is a UsageWriter that keeps events once per (workspace, id),
// knows which workspaces exist, and can be made to fail.
type fakeUsage struct {
	mu      sync.Mutex
	exists  map[string]bool
	events  map[string]store.UsageEvent
	fail    error
	batches int
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
	n := 0
	for _, e := range events {
		k := e.WorkspaceID + "/" + e.ID
		if _, dup := f.events[k]; !dup {
			f.events[k] = e
			n++
		}
	}
	return n, nil
}

func (f *fakeUsage) count(ws string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.events {
		if e.WorkspaceID == ws {
			n++
		}
	}
	return n
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRecorderCountsEachRequestOnce(t *testing.T) {
	st := newFakeUsage("ws_a", "ws_b")
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	var flushed [][]string
	r := NewRecorder(RecorderConfig{Store: st, Now: clk.now, Log: slog.New(slog.DiscardHandler),
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
	if a, b := st.count("ws_a"), st.count("ws_b"); a != 2 || b != 1 {
		t.Fatalf("recorded %d and %d calls, want 2 and 1", a, b)
	}
	if len(flushed) != 2 || len(flushed[0]) != 2 {
		t.Errorf("OnFlush saw %v", flushed)
	}
	if err := r.Flush(context.Background()); err != nil || st.batches != 2 {
		t.Errorf("an empty flush wrote a batch (%d) or failed: %v", st.batches, err)
	}
}

func TestRecorderKeepsEventsWhileTheStoreIsDown(t *testing.T) {
	st := newFakeUsage("ws_a")
	dropped := 0
	r := NewRecorder(RecorderConfig{Store: st, Log: slog.New(slog.DiscardHandler), MaxPending: 3,
		OnDrop: func(n int) { dropped += n }})
	st.fail = errors.New("store down")
	for i := range 5 {
		r.APICall("ws_a", fmt.Sprint("req_", i))
	}
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("flush into a failing store succeeded")
	}
	if r.Pending() != 3 || dropped != 2 {
		t.Fatalf("pending %d, dropped %d; want the newest 3 (MaxPending) and 2 reported dropped", r.Pending(), dropped)
	}
	st.fail = nil
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st.count("ws_a") != 3 || r.Pending() != 0 {
		t.Fatalf("after recovery: %d recorded, %d pending", st.count("ws_a"), r.Pending())
	}
	for _, id := range []string{"req/req_2", "req/req_3", "req/req_4"} {
		if _, ok := st.events["ws_a/"+id]; !ok {
			t.Errorf("%s lost; the oldest should go first", id)
		}
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
	if st.count("ws_a") != 1 || r.Pending() != 0 {
		t.Fatalf("ws_a has %d calls, %d pending; want 1 and 0", st.count("ws_a"), r.Pending())
	}
}

func TestRecorderRateIsTheLastMinute(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	r := NewRecorder(RecorderConfig{Store: newFakeUsage("ws_a"), Now: clk.now, Log: slog.New(slog.DiscardHandler)})
	for i := range 90 {
		r.APICall("ws_a", fmt.Sprint(i))
		clk.add(time.Second)
	}
	// At second 90 the window is the seconds 31..90: the calls of 31..89.
	if got := r.Rate("ws_a"); got != 59 {
		t.Fatalf("rate = %d, want 59", got)
	}
	clk.add(30 * time.Second)
	if got := r.Rate("ws_a"); got != 29 {
		t.Fatalf("rate 30 s later = %d, want 29 (61..89)", got)
	}
	clk.add(time.Minute)
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
	if st.count("ws_a") != 1 {
		t.Fatal("Run did not flush at the end")
	}
}
