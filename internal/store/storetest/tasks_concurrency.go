package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// testTaskTenantIsolation calls every task method with the id of another
// workspace's task: none may see or change it.
func testTaskTenantIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	owner, _ := createWorkspace(t, s, "owner")
	intruder, _ := createWorkspace(t, s, "intruder")
	queued := createTask(t, s, newTask(owner.ID))
	running := createTask(t, s, newTask(owner.ID))
	claim(t, s, params(owner.ID, t0)) // queued was first: it runs now
	queued, running = running, queued
	before := []snapshot{snap(t, s, owner.ID, queued.ID), snap(t, s, owner.ID, running.ID)}

	x := intruder.ID
	now := t0.Add(time.Second)
	for _, id := range []string{queued.ID, running.ID} {
		_, err := s.GetTask(ctx, x, id)
		wantErr(t, err, store.ErrNotFound, "GetTask")
		_, err = s.ListAttempts(ctx, x, id)
		wantErr(t, err, store.ErrNotFound, "ListAttempts")
		_, err = s.ListEvents(ctx, x, id, 0, 10)
		wantErr(t, err, store.ErrNotFound, "ListEvents")
		_, err = s.CancelTask(ctx, x, id, "x", now)
		wantErr(t, err, store.ErrNotFound, "CancelTask")
		_, err = s.EndTask(ctx, x, id, 1, api.TaskTerminated, "x", now)
		wantErr(t, err, store.ErrNotFound, "EndTask")
		got, err := s.Heartbeat(ctx, x, id, 1, &store.Usage{Tokens: 5}, now, lease)
		wantErr(t, err, store.ErrNotFound, "Heartbeat")
		if got.ID != "" {
			t.Errorf("Heartbeat from another workspace returned %+v", got)
		}
		_, err = s.Complete(ctx, x, id, 1, succeed(now))
		wantErr(t, err, store.ErrNotFound, "Complete")
		err = appendLogs(ctx, s, x, id, 1, []string{"x"}, now)
		wantErr(t, err, store.ErrNotFound, "AppendLogs")
	}
	dup := newTask(x)
	dup.ID = queued.ID
	_, _, err := s.CreateTask(ctx, dup, nil)
	wantErr(t, err, store.ErrConflict, "CreateTask with another workspace's task id")
	list, err := s.ListTasks(ctx, x, store.TaskFilter{}, store.Page{})
	must(t, err, "ListTasks")
	if len(list) != 0 {
		t.Errorf("intruder lists %+v", list)
	}
	if n, err := s.CountTasks(ctx, x, ""); err != nil || n != 0 {
		t.Errorf("intruder counts %d, %v", n, err)
	}
	noClaim(t, s, params(x, now), "ClaimTask of the intruder's workspace")
	for _, b := range before {
		unchanged(t, s, b, "another workspace's calls")
	}
}

// testTaskConcurrentClaims runs many claimers at once over three
// workspaces with a concurrency cap each, claiming batches of 1 to 4: no
// task is claimed twice, every task is done in the end, and no workspace
// ever runs more than its cap.
func testTaskConcurrentClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	const (
		workers = 8
		perWS   = 25
		limit   = 3
	)
	var wss []store.Workspace
	for i := range 3 {
		ws, _ := createWorkspace(t, s, fmt.Sprintf("ws-%d", i))
		wss = append(wss, ws)
		addTasks(t, s, ws.ID, perWS)
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		errs    []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			p := params(store.AnyWorkspace, t0)
			if w%4 == 3 { // some workers serve one workspace only
				p.WorkspaceID = wss[w%len(wss)].ID
			}
			p.WorkerID = fmt.Sprintf("w%d", w)
			p.Slots = func(_ store.Workspace, running int, _ store.Consumed) int { return limit - running }
			p.Max = 1 + w%4
			for {
				batch, err := s.ClaimTasks(ctx, p)
				if errors.Is(err, store.ErrNotFound) {
					return
				} else if err != nil {
					fail(err)
					return
				}
				if len(batch) > p.Max {
					fail(fmt.Errorf("claim of at most %d took %d", p.Max, len(batch)))
				}
				for _, got := range batch {
					mu.Lock()
					claimed[got.ID]++
					mu.Unlock()
					// Every committed state honours the cap.
					if n, err := s.CountTasks(ctx, got.WorkspaceID, api.TaskRunning); err != nil || n > limit {
						fail(fmt.Errorf("workspace %s runs %d tasks (%v), cap %d", got.WorkspaceID, n, err, limit))
					}
				}
				for _, got := range batch {
					if _, err := s.Complete(ctx, got.WorkspaceID, got.ID, got.Attempt, succeed(t0)); err != nil {
						fail(fmt.Errorf("complete %s: %w", got.ID, err))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(claimed) != len(wss)*perWS {
		t.Errorf("%d tasks claimed, want %d", len(claimed), len(wss)*perWS)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("task %s claimed %d times", id, n)
		}
	}
	for _, ws := range wss {
		if n, err := s.CountTasks(ctx, ws.ID, api.TaskSucceeded); err != nil || n != perWS {
			t.Errorf("workspace %s: %d succeeded (%v), want %d", ws.Name, n, err, perWS)
		}
	}
}

// errFull is the refusal of the admission tests.
var errFull = errors.New("queue full")

// capAt admits while fewer than limit tasks are queued, recording what it
// was shown.
func capAt(limit int, seen *[]store.Consumed) store.Admit {
	return func(queued int, used store.Consumed) error {
		if seen != nil {
			*seen = append(*seen, used)
		}
		if queued >= limit {
			return fmt.Errorf("%d queued: %w", queued, errFull)
		}
		return nil
	}
}

// testTaskAdmission: CreateTask asks admit under a lock on the workspace,
// so racing creates never pass a cap; admit's error refuses the task and
// comes back as is; admit sees the queued count and the period's use; a
// replay of an existing key is answered without asking.
func testTaskAdmission(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "capped")
	const limit = 5
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		full    int
	)
	for i := range 20 {
		wg.Go(func() {
			task := newTask(ws.ID)
			task.IdempotencyKey = fmt.Sprint("k", i)
			_, ok, err := s.CreateTask(ctx, task, capAt(limit, nil))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && ok:
				created++
			case errors.Is(err, errFull):
				full++
			default:
				t.Errorf("CreateTask %d: created=%v, %v", i, ok, err)
			}
		})
	}
	wg.Wait()
	if created != limit || full != 20-limit {
		t.Fatalf("20 racing creates against a cap of %d: %d created, %d refused", limit, created, full)
	}
	if n, err := s.CountTasks(ctx, ws.ID, api.TaskQueued); err != nil || n != limit {
		t.Fatalf("queued = %d, %v; want %d", n, err, limit)
	}
	// A replay of a key that made a task is answered although admit would
	// refuse.
	list, err := s.ListTasks(ctx, ws.ID, store.TaskFilter{}, store.Page{Limit: 10})
	must(t, err, "ListTasks")
	replay := newTask(ws.ID)
	replay.IdempotencyKey, replay.RequestHash = list[0].IdempotencyKey, list[0].RequestHash
	refuse := func(int, store.Consumed) error { return errFull }
	got, ok, err := s.CreateTask(ctx, replay, refuse)
	if err != nil || ok || got.ID != list[0].ID {
		t.Fatalf("replay refused by admit: %s created=%v %v; want %s", got.ID, ok, err, list[0].ID)
	}
	// Claimed tasks are not queued; admit sees the period's use.
	claim(t, s, params(ws.ID, t0))
	_, err = s.RecordUsage(ctx, usageEvent(ws.ID, "spend", store.MetricCostMicros, 42, t0))
	must(t, err, "RecordUsage")
	var seen []store.Consumed
	_, _, err = s.CreateTask(ctx, newTask(ws.ID), capAt(limit, &seen))
	must(t, err, "CreateTask after a claim")
	if want := (store.Consumed{Executions: 1, CostMicros: 42}); len(seen) != 1 || seen[0] != want {
		t.Errorf("admit saw %+v, want %+v", seen, want)
	}
	_, _, err = s.CreateTask(ctx, newTask(ws.ID), capAt(limit, nil))
	wantErr(t, err, errFull, "CreateTask at the cap again")
	next := newTask(ws.ID)
	next.CreatedAt = store.UsagePeriod(t0).AddDate(0, 1, 0)
	seen = nil
	_, _, err = s.CreateTask(ctx, next, capAt(limit+10, &seen))
	must(t, err, "CreateTask next month")
	if len(seen) != 1 || seen[0] != (store.Consumed{}) {
		t.Errorf("next month admit saw %+v, want nothing used", seen)
	}
	_, _, err = s.CreateTask(ctx, newTask(newWorkspace("ghost").ID), capAt(limit, nil))
	wantErr(t, err, store.ErrNotFound, "CreateTask with admit in an unknown workspace")
}

// testTaskGroupCommit sends many completions and heartbeats at once, so
// that they are group-committed: every task ends once, a duplicate
// completion of one attempt is stale (whichever batch it lands in), a
// completion of an attempt that never ran is stale, and every task has
// exactly its three state events and its execution metered once.
func testTaskGroupCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 40
	ws, _ := createWorkspace(t, s, "acme")
	addTasks(t, s, ws.ID, n)
	p := params(ws.ID, t0)
	p.Max = n
	claimed, err := s.ClaimTasks(ctx, p)
	must(t, err, "ClaimTasks")
	if len(claimed) != n {
		t.Fatalf("claimed %d, want %d", len(claimed), n)
	}
	done := t0.Add(3 * time.Second)
	type result struct {
		id  string
		err error
	}
	results := make(chan result, 4*n)
	var wg sync.WaitGroup
	for _, c := range claimed {
		wg.Go(func() {
			_, err := s.Heartbeat(ctx, ws.ID, c.ID, 1, &store.Usage{Tokens: 5}, t0.Add(time.Second), lease)
			results <- result{"hb " + c.ID, err}
		})
		for range 2 { // the same completion twice
			wg.Go(func() {
				_, err := s.Complete(ctx, ws.ID, c.ID, 1, succeed(done))
				results <- result{c.ID, err}
			})
		}
		wg.Go(func() {
			_, err := s.Complete(ctx, ws.ID, c.ID, 2, succeed(done))
			results <- result{"never ran " + c.ID, err}
		})
	}
	wg.Wait()
	close(results)
	ok := map[string]int{}
	for r := range results {
		switch {
		case strings.HasPrefix(r.id, "never ran "):
			wantErr(t, r.err, store.ErrStale, "completion of an attempt that never ran")
		case strings.HasPrefix(r.id, "hb "):
			if r.err != nil && !errors.Is(r.err, store.ErrStale) {
				t.Errorf("heartbeat: %v", r.err) // stale only when the completion went first
			}
		case r.err == nil:
			ok[r.id]++
		default:
			wantErr(t, r.err, store.ErrStale, "duplicate completion")
		}
	}
	for _, c := range claimed {
		if ok[c.ID] != 1 {
			t.Errorf("task %s completed %d times, want once", c.ID, ok[c.ID])
		}
		got, err := s.GetTask(ctx, ws.ID, c.ID)
		must(t, err, "GetTask")
		if got.Status != api.TaskSucceeded || got.ExecutionMS != 3000 {
			t.Errorf("task %s = %s with %d ms, want succeeded after 3000", c.ID, got.Status, got.ExecutionMS)
		}
		evs, err := s.ListEvents(ctx, ws.ID, c.ID, 0, 0)
		must(t, err, "ListEvents")
		if len(evs) != 3 || evs[2].Seq != 3 || evs[2].Status != api.TaskSucceeded {
			t.Errorf("task %s events = %+v, want queued, running, succeeded", c.ID, evs)
		}
	}
	totals, err := s.UsageTotals(ctx, ws.ID, t0)
	must(t, err, "UsageTotals")
	if totals[store.MetricExecutionMS] != n*3000 {
		t.Errorf("execution ms metered = %d, want %d", totals[store.MetricExecutionMS], n*3000)
	}
}
