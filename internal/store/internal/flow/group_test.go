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

func (m memTx) LockTasks(_ context.Context, refs []TaskRef) ([]Row, []store.Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		out      []Row
		attempts []store.Attempt
	)
	for _, r := range refs {
		if row, ok := m.tasks[r.ID]; ok {
			out = append(out, row)
			if row.Task.Status == api.TaskRunning {
				attempts = append(attempts, store.Attempt{TaskID: r.ID, Number: row.Task.Attempt, Status: api.TaskRunning})
			}
		}
	}
	return out, attempts, nil
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

// TestInBatchCallsShareACommit: InBatch calls that arrive while a
// transaction is in flight run in the next one, with the fenced calls
// pending then; a call that fails sends every call of its batch to run
// alone, and only it gets the error.
func TestInBatchCallsShareACommit(t *testing.T) {
	var (
		mu      sync.Mutex
		txs     int
		release = make(chan struct{})
	)
	tasks := map[string]Row{"t": {Task: store.Task{ID: "t", WorkspaceID: "ws", Status: api.TaskRunning, Attempt: 1}}}
	saved := 0
	tx := memTx{mu: &mu, tasks: tasks, saved: &saved}
	f := NewFlows(func(ctx context.Context, fn func(Tx) error) error {
		mu.Lock()
		txs++
		first := txs == 1
		mu.Unlock()
		if first {
			<-release
		}
		return fn(tx)
	})
	var wg sync.WaitGroup
	wg.Go(func() { _ = f.InBatch(context.Background(), func(Tx) error { return nil }) }) // holds the first transaction
	testutil.Eventually(t, 10*time.Second, "the first batch runs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return txs == 1
	})
	const n = 10
	ran := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = f.InBatch(context.Background(), func(Tx) error {
				mu.Lock()
				ran[i]++
				mu.Unlock()
				if i == 3 {
					return fmt.Errorf("call %d failed", i)
				}
				return nil
			})
		})
	}
	var completeErr error
	wg.Go(func() {
		_, completeErr = f.Complete(context.Background(), "ws", "t", 1,
			store.Outcome{Status: api.TaskSucceeded, Now: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)})
	})
	testutil.Eventually(t, 10*time.Second, "the calls queue behind the first batch", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.calls) == n && len(f.pending) == 1
	})
	close(release)
	wg.Wait()
	// 1 (held) + 1 (the batch, failed by call 3) + n + 1 (each alone).
	if txs != 2+n+1 {
		t.Errorf("transactions = %d, want %d", txs, 2+n+1)
	}
	for i := range n {
		if (errs[i] != nil) != (i == 3) {
			t.Errorf("call %d: err %v", i, errs[i])
		}
		// Calls before the failing one (in arrival order) ran in the
		// failed batch too; every call ran alone once.
		if ran[i] < 1 || ran[i] > 2 || (i == 3 && ran[i] != 2) {
			t.Errorf("call %d ran %d times", i, ran[i])
		}
	}
	if completeErr != nil || tasks["t"].Task.Status != api.TaskSucceeded {
		t.Errorf("the fenced call of the batch: %v, task %s", completeErr, tasks["t"].Task.Status)
	}

	// Without a failure, a batch of calls is one transaction.
	before := txs
	release2 := make(chan struct{})
	f2 := NewFlows(func(ctx context.Context, fn func(Tx) error) error {
		mu.Lock()
		txs++
		first := txs == before+1
		mu.Unlock()
		if first {
			<-release2
		}
		return fn(tx)
	})
	wg.Go(func() { _ = f2.InBatch(context.Background(), func(Tx) error { return nil }) })
	testutil.Eventually(t, 10*time.Second, "the first batch runs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return txs == before+1
	})
	for range n {
		wg.Go(func() { _ = f2.InBatch(context.Background(), func(Tx) error { return nil }) })
	}
	testutil.Eventually(t, 10*time.Second, "the calls queue", func() bool {
		f2.mu.Lock()
		defer f2.mu.Unlock()
		return len(f2.calls) == n
	})
	close(release2)
	wg.Wait()
	if got := txs - before; got != 2 {
		t.Errorf("%d calls behind a batch took %d transactions, want 2", n, got)
	}
}
