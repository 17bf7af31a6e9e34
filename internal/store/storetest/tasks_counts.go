package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// testTaskCountsExact: the counts that admission, the claim's cap, the
// queue list and /metrics read (CountTasks, CountAllTasks, QueueStats)
// stay equal to the tasks themselves through concurrent creates, batch
// claims, completions, retries, cancels, ends, waits, lease expiry and a
// workspace's deletion — and concurrent transitions do not deadlock.
func testTaskCountsExact(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, _ := createWorkspace(t, s, "counted-a")
	b, _ := createWorkspace(t, s, "counted-b")
	doomed, _ := createWorkspace(t, s, "counted-doomed")
	addTasks(t, s, doomed.ID, 3)
	claim(t, s, params(doomed.ID, t0))

	const workers, rounds = 4, 12
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for _, ws := range []store.Workspace{a, b} {
		for w := range workers {
			wg.Go(func() {
				now := t0.Add(time.Duration(w) * time.Millisecond)
				for r := range rounds {
					task := newTask(ws.ID)
					if r%3 == 0 {
						task.Queue = "q2"
					}
					if _, _, err := s.CreateTask(ctx, task, nil); err != nil {
						fail(fmt.Errorf("create: %w", err))
						return
					}
					p := params(ws.ID, now)
					p.Max, p.WorkerID = 2, fmt.Sprintf("w%d", w)
					got, err := s.ClaimTasks(ctx, p)
					if errors.Is(err, store.ErrNotFound) {
						continue
					} else if err != nil {
						fail(fmt.Errorf("claim: %w", err))
						return
					}
					for i, c := range got {
						switch (r + i) % 6 {
						case 0:
							_, err = s.Complete(ctx, ws.ID, c.ID, c.Attempt, succeed(now))
						case 1:
							_, err = s.Complete(ctx, ws.ID, c.ID, c.Attempt, store.Outcome{Status: api.TaskFailed,
								Error: "boom", Retryable: true, Now: now})
						case 2:
							_, err = s.CancelTask(ctx, ws.ID, c.ID, "test", now)
						case 3:
							_, err = s.EndTask(ctx, ws.ID, c.ID, c.Attempt, api.TaskTimedOut, "timeout", now)
						case 4: // waits for a signal: the task is waiting
							_, err = s.BeginStep(ctx, ws.ID, c.ID, store.StepBegin{Key: "w", Kind: api.StepWait, Signal: "go",
								Attempt: c.Attempt, Now: now, Lease: lease})
						default: // left running for the reaper
						}
						if err != nil && !errors.Is(err, store.ErrStale) && !errors.Is(err, store.ErrConflict) {
							fail(fmt.Errorf("transition: %w", err))
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	_, err := s.ExpireLeases(ctx, t0.Add(time.Hour), nil)
	must(t, err, "ExpireLeases")
	must(t, s.DeleteWorkspace(ctx, doomed.ID), "DeleteWorkspace")

	// The truth: every task listed, counted by hand.
	truth := map[string]map[string]int{} // workspace → status → n
	perQueue := map[[2]string]int64{}    // (queue, status) → n
	for _, ws := range []store.Workspace{a, b} {
		truth[ws.ID] = map[string]int{}
		n := 0
		for page := (store.Page{Limit: 100}); ; {
			got, err := s.ListTasks(ctx, ws.ID, store.TaskFilter{}, page)
			must(t, err, "ListTasks")
			for _, tk := range got {
				truth[ws.ID][tk.Status]++
				perQueue[[2]string{tk.Queue, tk.Status}]++
			}
			n += len(got)
			if len(got) < page.Limit {
				break
			}
			page.After = got[len(got)-1].ID
		}
		if n != workers*rounds {
			t.Errorf("%s has %d tasks, want %d", ws.Name, n, workers*rounds)
		}
		if truth[ws.ID][api.TaskWaiting] == 0 {
			t.Errorf("%s has no waiting task: the test does not count waits", ws.Name)
		}
	}
	for _, ws := range []store.Workspace{a, b} {
		total := 0
		for _, st := range api.TaskStatuses {
			n, err := s.CountTasks(ctx, ws.ID, st)
			must(t, err, "CountTasks")
			if n != truth[ws.ID][st] {
				t.Errorf("CountTasks(%s, %s) = %d, want %d", ws.Name, st, n, truth[ws.ID][st])
			}
			total += n
		}
		if n, err := s.CountTasks(ctx, ws.ID, ""); err != nil || n != total {
			t.Errorf("CountTasks(%s, all) = %d, %v; want %d", ws.Name, n, err, total)
		}
	}
	for _, st := range api.TaskStatuses {
		got, err := s.CountAllTasks(ctx, st)
		must(t, err, "CountAllTasks")
		for _, ws := range []store.Workspace{a, b} {
			if got[ws.ID] != truth[ws.ID][st] {
				t.Errorf("CountAllTasks(%s)[%s] = %d, want %d", st, ws.Name, got[ws.ID], truth[ws.ID][st])
			}
		}
		if n := got[doomed.ID]; n != 0 {
			t.Errorf("CountAllTasks(%s) counts %d tasks of a deleted workspace", st, n)
		}
	}
	stats, err := s.QueueStats(ctx)
	must(t, err, "QueueStats")
	seen := map[[2]string]int64{}
	for _, q := range stats {
		seen[[2]string{q.Queue, q.Status}] = q.Count
	}
	for k, n := range perQueue {
		if seen[k] != n {
			t.Errorf("QueueStats %s/%s = %d, want %d", k[0], k[1], seen[k], n)
		}
	}
	if len(seen) != len(perQueue) {
		t.Errorf("QueueStats = %v, want %v", seen, perQueue)
	}
}

// testCreateTasksBatch: CreateTasks admits each task on the counts with the
// batch's earlier tasks counted, answers replays (of the store and of the
// batch) without asking, and gives each create its own outcome.
func testCreateTasksBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "batch")
	addTasks(t, s, ws.ID, 3)
	old := newTask(ws.ID)
	old.IdempotencyKey = "old"
	old = createTask(t, s, old)

	const capQueued = 6 // 4 queued now: room for 2
	errFull := errors.New("full")
	admit := func(queued int, used store.Consumed) error {
		if queued >= capQueued {
			return errFull
		}
		return nil
	}
	var ts []store.Task
	for range 4 {
		ts = append(ts, newTask(ws.ID))
	}
	replayOld := newTask(ws.ID)
	replayOld.IdempotencyKey, replayOld.RequestHash = "old", old.RequestHash
	conflict := newTask(ws.ID)
	conflict.IdempotencyKey = "old" // other parameters (another hash)
	other, _ := createWorkspace(t, s, "other")
	stray := newTask(other.ID)
	ts = append(ts, replayOld, conflict, stray)
	admits := make([]store.Admit, len(ts))
	for i := range admits {
		admits[i] = admit
	}
	got, err := s.CreateTasks(ctx, ts, admits)
	must(t, err, "CreateTasks")
	for i, want := range []struct {
		created bool
		err     error
	}{{true, nil}, {true, nil}, {false, errFull}, {false, errFull}, {false, nil}, {false, store.ErrConflict}, {false, store.ErrConflict}} {
		g := got[i]
		if g.Created != want.created || (want.err == nil) != (g.Err == nil) || (want.err != nil && !errors.Is(g.Err, want.err)) {
			t.Errorf("create %d: created %v, err %v; want %v, %v", i, g.Created, g.Err, want.created, want.err)
		}
	}
	if got[4].Task.ID != old.ID || got[5].Task.ID != old.ID {
		t.Errorf("replays answered with %s and %s, want %s", got[4].Task.ID, got[5].Task.ID, old.ID)
	}
	if n, err := s.CountTasks(ctx, ws.ID, api.TaskQueued); err != nil || n != capQueued {
		t.Errorf("queued after the batch = %d, %v; want %d", n, err, capQueued)
	}
	if n, err := s.CountTasks(ctx, other.ID, ""); err != nil || n != 0 {
		t.Errorf("the other workspace's stray task was created (%d, %v)", n, err)
	}
}
