package tasks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// gateStore holds its first ClaimTasks until released and records the
// params of every call; it has queued tasks to hand out.
type gateStore struct {
	Store
	mu      sync.Mutex
	calls   []store.ClaimParams
	release chan struct{}
	queued  int
}

func (g *gateStore) ClaimTasks(ctx context.Context, p store.ClaimParams) ([]store.Task, error) {
	g.mu.Lock()
	g.calls = append(g.calls, p)
	first := len(g.calls) == 1
	g.mu.Unlock()
	if first {
		<-g.release
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []store.Task
	for i := 0; i < max(p.Max, 1) && g.queued > 0; i++ {
		g.queued--
		out = append(out, store.Task{ID: fmt.Sprintf("t%d", g.queued), WorkspaceID: "ws", Status: api.TaskRunning,
			WorkerID: p.Worker(i), Attempt: 1})
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out, nil
}

func (g *gateStore) SeenWorker(context.Context, store.Worker) error { return nil }

func (g *gateStore) PruneWorkers(context.Context, time.Time) error { return nil }

// TestClaimsTogether: claims that arrive while a claim of the same
// workspace and queues is at the store go to the store as one claim, for
// all their tasks, each task going to the worker it was claimed for; a
// claim of other queues is not held up by them.
func TestClaimsTogether(t *testing.T) {
	g := &gateStore{release: make(chan struct{}), queued: 7}
	s := New(Config{Store: g})
	ctx := context.Background()
	type result struct {
		worker string
		got    []store.Task
		err    error
	}
	results := make(chan result, 8)
	claim := func(worker string, max int) {
		got, err := s.Claim(ctx, "ws", []string{"default"}, worker, max, 0)
		results <- result{worker, got, err}
	}
	go claim("first", 1) // held at the store
	testutil.Eventually(t, 5*time.Second, "the first claim reaches the store", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.calls) == 1
	})
	for i := range 4 {
		go claim(fmt.Sprintf("w%d", i), 2)
	}
	testutil.Eventually(t, 5*time.Second, "4 claims wait behind the first", func() bool {
		s.claimers.mu.Lock()
		defer s.claimers.mu.Unlock()
		gr := s.claimers.groups["ws\x00default"]
		return gr != nil && len(gr.waiting) == 4
	})
	close(g.release)
	got := map[string]int{}
	for range 5 {
		r := <-results
		if r.err != nil {
			t.Fatalf("%s: %v", r.worker, r.err)
		}
		for _, task := range r.got {
			if task.WorkerID != r.worker {
				t.Errorf("%s got task %s claimed for %s", r.worker, task.ID, task.WorkerID)
			}
		}
		got[r.worker] = len(r.got)
	}
	if len(g.calls) != 2 {
		t.Fatalf("store claims = %d, want 2 (the first, then one for the 4 waiting)", len(g.calls))
	}
	if p := g.calls[1]; p.Max != 8 || len(p.Workers) != 8 {
		t.Errorf("the joint claim = max %d, %d workers; want 8 and 8", p.Max, len(p.Workers))
	}
	// 7 tasks: 1 to first, then 6 dealt in arrival order, 2 each; the
	// last to arrive gets none.
	total, empty := 0, 0
	for w, n := range got {
		total += n
		if n == 0 && w != "first" {
			empty++
		}
	}
	if total != 7 || got["first"] != 1 || empty != 1 {
		t.Errorf("tasks dealt = %v, want 7 in all: 1 to first, 2 to three of the others, none to the last", got)
	}
}

// TestDrainMarksAreNotReplacedUnderTheirWaiters: a live mark keeps its
// subscription (claimers may be waiting on it); a second claim that found
// the queues drained keeps its own. Once the mark is woken, the next one
// replaces it and the old subscription is cancelled.
func TestDrainMarksAreNotReplacedUnderTheirWaiters(t *testing.T) {
	var c claimers
	cancelled := map[string]int{}
	sub := func(name string) (chan struct{}, func()) {
		return make(chan struct{}), func() { cancelled[name]++ }
	}
	first, doneFirst := sub("first")
	if !c.markDrained("k", first, doneFirst, time.Hour) {
		t.Fatal("the first mark was not taken")
	}
	second, doneSecond := sub("second")
	if c.markDrained("k", second, doneSecond, time.Hour) {
		t.Fatal("a live mark was replaced")
	}
	if ch, _, ok := c.stillDrained("k"); !ok || ch != (<-chan struct{})(first) || cancelled["first"] != 0 {
		t.Fatalf("stillDrained = %v, %v; first cancelled %d times", ch, ok, cancelled["first"])
	}
	close(first) // woken
	third, doneThird := sub("third")
	if !c.markDrained("k", third, doneThird, time.Hour) || cancelled["first"] != 1 {
		t.Fatalf("after a wake-up the mark was not replaced (first cancelled %d times)", cancelled["first"])
	}
	if _, _, ok := c.stillDrained("k"); !ok {
		t.Error("the new mark does not hold")
	}
}
