package storetest

import (
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func testTaskIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	other, _ := createWorkspace(t, s, "other")
	in := newTask(ws.ID)
	in.IdempotencyKey = "key-1"
	first := createTask(t, s, in)

	retry := newTask(ws.ID) // a new id, the same key and parameters
	retry.IdempotencyKey, retry.RequestHash = in.IdempotencyKey, in.RequestHash
	got, created, err := s.CreateTask(ctx, retry, nil)
	must(t, err, "CreateTask retried")
	if created || got.ID != first.ID {
		t.Errorf("retried CreateTask: created=%v, id %s; want the first task %s", created, got.ID, first.ID)
	}
	checkTask(t, "retried CreateTask", got, first)

	clash := newTask(ws.ID) // the same key, other parameters
	clash.IdempotencyKey = in.IdempotencyKey
	_, created, err = s.CreateTask(ctx, clash, nil)
	wantErr(t, err, store.ErrConflict, "CreateTask reusing a key with other parameters")
	if created {
		t.Error("conflicting CreateTask says created")
	}

	// Keys are per workspace; no key means no deduplication.
	elsewhere := newTask(other.ID)
	elsewhere.IdempotencyKey, elsewhere.RequestHash = in.IdempotencyKey, in.RequestHash
	createTask(t, s, elsewhere)
	for range 2 {
		plain := newTask(ws.ID)
		plain.RequestHash = in.RequestHash
		createTask(t, s, plain)
	}
	if n, err := s.CountTasks(ctx, ws.ID, ""); err != nil || n != 3 {
		t.Errorf("CountTasks = %d, %v; want 3", n, err)
	}
	checkStates(t, s, ws.ID, first.ID, api.TaskQueued) // no second event
}

func testTaskConcurrentIdempotency(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	const n = 10
	hash := newHash()
	ids := make([]string, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		task := newTask(ws.ID)
		task.IdempotencyKey, task.RequestHash = "same", hash
		wg.Go(func() {
			var got store.Task
			got, created[i], errs[i] = s.CreateTask(ctx, task, nil)
			ids[i] = got.ID
		})
	}
	wg.Wait()
	made := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("CreateTask %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("CreateTask %d returned task %s, another returned %s", i, ids[i], ids[0])
		}
		if created[i] {
			made++
		}
	}
	if made != 1 {
		t.Errorf("%d creates say created, want 1", made)
	}
	if c, err := s.CountTasks(ctx, ws.ID, api.TaskQueued); err != nil || c != 1 {
		t.Errorf("CountTasks = %d, %v; want 1", c, err)
	}
}

func testTaskClaimFairness(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, _ := createWorkspace(t, s, "busy")
	b, _ := createWorkspace(t, s, "quiet")
	// A's backlog is older than all of B's tasks: FIFO would serve A only.
	addTasks(t, s, a.ID, fairnessBacklog)
	addTasks(t, s, b.ID, 10)
	served := map[string]int{}
	var order []string
	now := t0.Add(time.Second)
	for served[a.ID] < 20 {
		got := claim(t, s, params(store.AnyWorkspace, now))
		served[got.WorkspaceID]++
		order = append(order, got.WorkspaceID[len(got.WorkspaceID)-4:])
		if _, err := s.Complete(ctx, got.WorkspaceID, got.ID, got.Attempt, succeed(now)); err != nil {
			t.Fatalf("Complete: %v", err)
		}
	}
	if served[b.ID] != 10 {
		t.Errorf("B got %d claims before A's 20th, want all 10; order %v", served[b.ID], order)
	}
}

// fairnessBacklog is the size of the busy workspace's backlog: the
// thousand queued tasks of issue 3, against the quiet workspace's ten.
const fairnessBacklog = 1000

func testTaskClaimEligible(t *testing.T, s store.Store) {
	ctx := t.Context()
	capped, _ := createWorkspace(t, s, "capped")
	free, _ := createWorkspace(t, s, "free")
	addTasks(t, s, capped.ID, 5)
	addTasks(t, s, free.ID, 5)
	var mu sync.Mutex
	seen := map[string]int{} // workspace name → highest running count seen
	p := params(store.AnyWorkspace, t0)
	p.Slots = eligible(func(ws store.Workspace, running int, _ store.Consumed) bool {
		mu.Lock()
		seen[ws.Name] = max(seen[ws.Name], running)
		mu.Unlock()
		return ws.ID != capped.ID || running < 2
	})
	served := map[string]int{}
	var cappedTasks []store.Task
	for range 6 {
		got := claim(t, s, p)
		served[got.WorkspaceID]++
		if got.WorkspaceID == capped.ID {
			cappedTasks = append(cappedTasks, got)
		}
	}
	if served[capped.ID] != 2 || served[free.ID] != 4 {
		t.Errorf("claims: capped %d, free %d; want 2 and 4", served[capped.ID], served[free.ID])
	}
	if seen["capped"] != 2 || seen["free"] != 3 {
		t.Errorf("Eligible saw running counts up to %v, want capped 2, free 3", seen)
	}
	only := p
	only.WorkspaceID = capped.ID
	noClaim(t, s, only, "ClaimTask of a workspace at its cap")
	if n, err := s.CountTasks(ctx, capped.ID, api.TaskRunning); err != nil || n != 2 {
		t.Errorf("running in the capped workspace: %d, %v; want 2", n, err)
	}
	// One finishes: the workspace is served again.
	_, err := s.Complete(ctx, capped.ID, cappedTasks[0].ID, 1, succeed(t0))
	must(t, err, "Complete")
	if got := claim(t, s, only); got.WorkspaceID != capped.ID {
		t.Errorf("claimed from %s, want the capped workspace", got.WorkspaceID)
	}
	// A workspace never eligible is never served.
	p.Slots = eligible(func(store.Workspace, int, store.Consumed) bool { return false })
	noClaim(t, s, p, "ClaimTask with nothing eligible")
}

func testTaskClaimOrder(t *testing.T, s store.Store) {
	ws, _ := createWorkspace(t, s, "acme")
	var want []string
	mk := func(priority int, runAt time.Time) store.Task {
		in := newTask(ws.ID)
		in.Priority, in.RunAt = priority, runAt
		return createTask(t, s, in)
	}
	low1 := mk(-5, t0)
	high := mk(10, t0)
	mid1 := mk(0, t0)
	later := mk(100, t0.Add(time.Hour)) // highest, but not yet runnable
	mid2 := mk(0, t0)
	low2 := mk(-5, t0)
	for _, tk := range []store.Task{high, mid1, mid2, low1, low2} {
		want = append(want, tk.ID)
	}
	var got []string
	for range want {
		got = append(got, claim(t, s, params(ws.ID, t0)).ID)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("claim order %v, want %v", got, want)
		}
	}
	noClaim(t, s, params(ws.ID, t0.Add(time.Hour-time.Microsecond)), "ClaimTask before RunAt")
	if g := claim(t, s, params(ws.ID, t0.Add(time.Hour))); g.ID != later.ID {
		t.Errorf("claimed %s at RunAt, want %s", g.ID, later.ID)
	}
}

func testTaskClaimFilters(t *testing.T, s store.Store) {
	a, _ := createWorkspace(t, s, "a")
	b, _ := createWorkspace(t, s, "b")
	mk := func(ws, queue string) store.Task {
		in := newTask(ws)
		in.Queue = queue
		return createTask(t, s, in)
	}
	aGPU, bGPU := mk(a.ID, "gpu"), mk(b.ID, "gpu")
	aCPU, bCPU := mk(a.ID, "cpu"), mk(b.ID, "cpu")

	p := params(a.ID, t0)
	p.Queues = []string{"other"}
	noClaim(t, s, p, "ClaimTask of an empty queue")
	p.Queues = []string{"gpu"}
	if got := claim(t, s, p); got.ID != aGPU.ID {
		t.Errorf("claimed %s, want a's gpu task", got.ID)
	}
	noClaim(t, s, p, "ClaimTask of a's drained gpu queue") // b's gpu task is b's
	p.WorkspaceID = store.AnyWorkspace
	if got := claim(t, s, p); got.ID != bGPU.ID {
		t.Errorf("shared claim got %s, want b's gpu task", got.ID)
	}
	p.Queues = []string{"gpu", "cpu"}
	got := map[string]bool{claim(t, s, p).ID: true, claim(t, s, p).ID: true}
	if !got[aCPU.ID] || !got[bCPU.ID] {
		t.Errorf("claims from two queues got %v, want both cpu tasks", got)
	}
	noClaim(t, s, p, "ClaimTask with everything claimed")
	p.WorkspaceID = newWorkspace("ghost").ID
	noClaim(t, s, p, "ClaimTask of an unknown workspace")
	p.Queues = nil
	if _, err := s.ClaimTasks(t.Context(), p); err == nil {
		t.Error("ClaimTasks without queues did not fail")
	}
}

// testTaskClaimBatch: a claim of several tasks takes them in pick order,
// each a running first attempt with its attempt row, state event and
// task_execution; Slots caps it; a shared claim spreads over workspaces.
func testTaskClaimBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	tasks := addTasks(t, s, ws.ID, 6)
	p := params(ws.ID, t0)
	p.Max = 4
	got, err := s.ClaimTasks(ctx, p)
	must(t, err, "ClaimTasks")
	if len(got) != 4 {
		t.Fatalf("claimed %d tasks, want 4", len(got))
	}
	for i, c := range got {
		if c.ID != tasks[i].ID || c.Status != api.TaskRunning || c.Attempt != 1 || c.WorkerID != "w1" {
			t.Errorf("claim %d = %s %s attempt %d by %q; want %s running attempt 1 by w1", i, c.ID, c.Status, c.Attempt, c.WorkerID, tasks[i].ID)
		}
		stored, err := s.GetTask(ctx, ws.ID, c.ID)
		must(t, err, "GetTask")
		if !reflect.DeepEqual(stored, c) {
			t.Errorf("claimed task %s reads back as %+v, want %+v", c.ID, stored, c)
		}
		attempts, err := s.ListAttempts(ctx, ws.ID, c.ID)
		must(t, err, "ListAttempts")
		if len(attempts) != 1 || attempts[0].Status != api.TaskRunning || attempts[0].WorkerID != "w1" {
			t.Errorf("task %s attempts = %+v, want one running by w1", c.ID, attempts)
		}
		events, err := s.ListEvents(ctx, ws.ID, c.ID, 0, 0)
		must(t, err, "ListEvents")
		if len(events) != 2 || events[1].Status != api.TaskRunning || events[1].Seq != 2 || events[1].Attempt != 1 {
			t.Errorf("task %s events = %+v, want queued then running (seq 2, attempt 1)", c.ID, events)
		}
	}
	totals, err := s.UsageTotals(ctx, ws.ID, t0)
	must(t, err, "UsageTotals")
	if totals[store.MetricTaskExecutions] != 4 {
		t.Errorf("task executions = %d, want 4", totals[store.MetricTaskExecutions])
	}
	// Slots caps the batch: 2 remain claimable, the cap leaves room for 1.
	p.Slots = func(_ store.Workspace, running int, _ store.Consumed) int { return 5 - running }
	p.Max = 10
	got, err = s.ClaimTasks(ctx, p)
	must(t, err, "ClaimTasks under a cap")
	if len(got) != 1 || got[0].ID != tasks[4].ID {
		t.Errorf("claim under a cap of 5 with 4 running took %d tasks, want %s only", len(got), tasks[4].ID)
	}
	noClaim(t, s, p, "ClaimTasks at the cap")

	// A shared claim of 4 over two workspaces takes 2 of each.
	a, _ := createWorkspace(t, s, "a")
	b, _ := createWorkspace(t, s, "b")
	addTasks(t, s, a.ID, 5)
	addTasks(t, s, b.ID, 5)
	shared := params(store.AnyWorkspace, t0)
	shared.Max = 4
	shared.Slots = func(w store.Workspace, _ int, _ store.Consumed) int {
		if w.ID == ws.ID {
			return 0
		}
		return 100
	}
	got, err = s.ClaimTasks(ctx, shared)
	must(t, err, "shared ClaimTasks")
	per := map[string]int{}
	for _, c := range got {
		per[c.WorkspaceID]++
	}
	if len(got) != 4 || per[a.ID] != 2 || per[b.ID] != 2 {
		t.Errorf("shared claim of 4 took %v (a %s, b %s), want 2 of each", per, a.ID, b.ID)
	}
	// One workspace left with tasks: a batch takes them all from it.
	shared.Max = 10
	got, err = s.ClaimTasks(ctx, shared)
	must(t, err, "shared ClaimTasks")
	if len(got) != 6 {
		t.Errorf("second shared claim took %d tasks, want the 6 left", len(got))
	}
}

// testClaimForSeveralWorkers: a claim made for several workers at once
// (ClaimParams.Workers) gives the i-th task claimed to the i-th worker, its
// attempt too, across the workspaces a shared claim serves.
func testClaimForSeveralWorkers(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, _ := createWorkspace(t, s, "several-a")
	b, _ := createWorkspace(t, s, "several-b")
	addTasks(t, s, a.ID, 2)
	addTasks(t, s, b.ID, 2)
	p := params(store.AnyWorkspace, t0)
	p.Max, p.Workers = 3, []string{"w-1", "w-2", "w-3"}
	got, err := s.ClaimTasks(ctx, p)
	must(t, err, "ClaimTasks")
	if len(got) != 3 {
		t.Fatalf("claimed %d tasks, want 3", len(got))
	}
	for i, task := range got {
		want := p.Workers[i]
		if task.WorkerID != want {
			t.Errorf("task %d went to %q, want %q", i, task.WorkerID, want)
		}
		as := attempts(t, s, task.WorkspaceID, task.ID, 1)
		if as[0].WorkerID != want {
			t.Errorf("task %d's attempt went to %q, want %q", i, as[0].WorkerID, want)
		}
	}
}
