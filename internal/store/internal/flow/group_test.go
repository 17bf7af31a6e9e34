package flow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// memTx is a Tx over a map of running tasks: just what fencedBatch uses
// (the other methods are the nil embedded interface's, and panic).
type memTx struct {
	Tx
	mu    *sync.Mutex
	tasks map[string]Row
	saved *int // SaveTasks statements
}

func (m memTx) LockTasks(_ context.Context, refs []TaskRef) ([]Row, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Row
	for _, r := range refs {
		if row, ok := m.tasks[r.ID]; ok {
			out = append(out, row)
		}
	}
	return out, nil
}

func (m memTx) Attempts(_ context.Context, refs []AttemptRef) ([]store.Attempt, error) {
	out := make([]store.Attempt, len(refs))
	for i, r := range refs {
		out[i] = store.Attempt{TaskID: r.TaskID, Number: r.Number, Status: api.TaskRunning}
	}
	return out, nil
}

func (m memTx) SaveAttempts(context.Context, []store.Attempt) error { return nil }

func (m memTx) SaveTasks(_ context.Context, rows []Row) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	*m.saved++
	for _, r := range rows {
		m.tasks[r.Task.ID] = r
	}
	return nil
}

func (m memTx) InsertEvents(context.Context, []store.TaskEvent) error { return nil }

func (m memTx) Write(ctx context.Context, w Writes) error { return WriteEach(ctx, m, w) }

func (m memTx) InsertUsage(_ context.Context, e []store.UsageEvent) ([]store.UsageEvent, error) {
	return e, nil
}

func (m memTx) AddUsage(context.Context, bool, []usagerows.Increment) error { return nil }

// TestCallsArrivingDuringABatchShareTheNext: while one transaction is in
// flight, the calls that arrive wait and then go together in one more
// transaction, with one SaveTasks statement for all of them.
func TestCallsArrivingDuringABatchShareTheNext(t *testing.T) {
	const n = 20
	var mu sync.Mutex
	tasks := map[string]Row{}
	for i := range n {
		id := string(rune('a' + i))
		tasks[id] = Row{Task: store.Task{ID: id, WorkspaceID: "ws", Status: api.TaskRunning, Attempt: 1}}
	}
	saved := 0
	tx := memTx{mu: &mu, tasks: tasks, saved: &saved}
	var (
		f       *Flows
		txs     int
		release = make(chan struct{})
	)
	f = NewFlows(func(ctx context.Context, fn func(Tx) error) error {
		mu.Lock()
		txs++
		first := txs == 1
		mu.Unlock()
		if first {
			<-release // hold the first batch until the others queue up
		}
		return fn(tx)
	})
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		id := string(rune('a' + i))
		wg.Go(func() {
			_, err := f.Complete(context.Background(), "ws", id, 1, store.Outcome{Status: api.TaskSucceeded, Now: now})
			errs <- err
		})
	}
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d calls queued behind the first batch", n-1), func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.pending) == n-1
	})
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if txs != 2 || saved != 2 {
		t.Errorf("%d calls took %d transactions and %d SaveTasks, want 2 and 2", n, txs, saved)
	}
	for id, r := range tasks {
		if r.Task.Status != api.TaskSucceeded || r.Seq != 1 {
			t.Errorf("task %s = %s seq %d, want succeeded with its event", id, r.Task.Status, r.Seq)
		}
	}
}
