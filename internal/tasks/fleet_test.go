package tasks

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/testutil"
)

// seenStore records worker writes and prunes.
type seenStore struct {
	Store
	mu     sync.Mutex
	writes []store.Worker
	prunes []time.Time
	fail   bool
}

func (f *seenStore) SeenWorker(ctx context.Context, w store.Worker) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("store down")
	}
	f.writes = append(f.writes, w)
	return nil
}

func (f *seenStore) PruneWorkers(ctx context.Context, before time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prunes = append(f.prunes, before)
	return nil
}

// TestSeenWritesAWorkerAtMostEvery15s: a worker polling in a loop costs one
// write per 15 s, a change is written at once, a failed write is retried
// at the next claim, and old workers are pruned hourly.
func TestSeenWritesAWorkerAtMostEvery15s(t *testing.T) {
	fs := &seenStore{}
	clk := testutil.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	s := New(Config{Store: fs, Now: clk.Now})
	w := store.Worker{WorkspaceID: "ws", ID: "w1", Queues: []string{"default"}, Concurrency: 4}
	ctx := t.Context()
	for range 10 {
		s.Seen(ctx, w)
		clk.Advance(time.Second)
	}
	if len(fs.writes) != 1 || len(fs.prunes) != 1 {
		t.Fatalf("10 claims in 10 s: %d writes, %d prunes; want 1 and 1", len(fs.writes), len(fs.prunes))
	}
	clk.Advance(5 * time.Second) // 15 s since the write
	s.Seen(ctx, w)
	if len(fs.writes) != 2 || !fs.writes[1].LastSeenAt.Equal(clk.Now()) {
		t.Fatalf("after 15 s: writes = %+v", fs.writes)
	}
	w.Concurrency = 8
	s.Seen(ctx, w)
	w.Queues = []string{"default", "gpu"}
	s.Seen(ctx, w)
	if len(fs.writes) != 4 || fs.writes[3].Concurrency != 8 || len(fs.writes[3].Queues) != 2 {
		t.Fatalf("changes not written at once: %+v", fs.writes)
	}
	other := store.Worker{WorkspaceID: "ws2", ID: "w1"}
	s.Seen(ctx, other)
	if len(fs.writes) != 5 {
		t.Fatalf("a worker of another workspace with the same id was not written: %d writes", len(fs.writes))
	}

	fs.fail = true
	bad := store.Worker{WorkspaceID: "ws", ID: "w2"}
	s.Seen(ctx, bad)
	fs.fail = false
	s.Seen(ctx, bad)
	if n := len(fs.writes); n != 6 || fs.writes[5].ID != "w2" {
		t.Fatalf("a failed write was not retried at the next claim: %+v", fs.writes)
	}

	clk.Advance(time.Hour)
	s.Seen(ctx, w)
	if len(fs.prunes) != 2 || !fs.prunes[1].Equal(clk.Now().Add(-pruneAfter)) {
		t.Fatalf("prunes = %v, want a second one an hour later", fs.prunes)
	}
}

func TestVersionOf(t *testing.T) {
	for ua, want := range map[string]string{
		"baton/1.4.0 (linux/amd64)":         "1.4.0",
		"baton/v0.9.1-rc.1+dirty":           "v0.9.1-rc.1+dirty",
		"baton/":                            "",
		"curl/8.0":                          "",
		"baton/1.0\x00":                     "",
		"baton/" + string(make([]byte, 65)): "",
	} {
		if got := VersionOf(ua); got != want {
			t.Errorf("VersionOf(%q) = %q, want %q", ua, got, want)
		}
	}
}
