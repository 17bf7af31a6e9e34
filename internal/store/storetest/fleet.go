package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

var fleetTests = []suiteTest{
	{"Workers", testWorkers},
	{"ListQueues", testListQueues},
}

// testWorkers: a seen worker is listed with its tasks, to its workspace
// only (every worker for AnyWorkspace), until it is older than since; a
// second sighting replaces the first; PruneWorkers forgets old ones.
func testWorkers(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, _ := createWorkspace(t, s, "fleet-a")
	b, _ := createWorkspace(t, s, "fleet-b")
	seen := func(w store.Worker) {
		t.Helper()
		must(t, s.SeenWorker(ctx, w), "SeenWorker")
	}
	seen(store.Worker{WorkspaceID: a.ID, ID: "w1", Host: "old", Queues: []string{"x"}, LastSeenAt: t0})
	seen(store.Worker{WorkspaceID: a.ID, ID: "w1", Host: "h1", Version: "1.2.3", Queues: []string{"default", "gpu"},
		Concurrency: 4, LastSeenAt: t0.Add(time.Second)})
	seen(store.Worker{WorkspaceID: b.ID, ID: "w1", Host: "hb", Queues: []string{"default"}, Concurrency: 1, LastSeenAt: t0})
	seen(store.Worker{WorkspaceID: store.OperatorWorkspace, ID: "shared", Host: "hs", Queues: []string{"default"},
		Concurrency: 8, LastSeenAt: t0})
	seen(store.Worker{WorkspaceID: a.ID, ID: "gone", LastSeenAt: t0.Add(-time.Hour)})

	// w1 of a holds two of a's tasks; shared holds one of b's.
	addTasks(t, s, a.ID, 3)
	p := params(a.ID, t0)
	p.Max = 2
	_, err := s.ClaimTasks(ctx, p)
	must(t, err, "ClaimTasks")
	addTasks(t, s, b.ID, 1)
	p = params(store.AnyWorkspace, t0)
	p.WorkerID = "shared"
	claim(t, s, p)

	since := t0.Add(-time.Minute)
	got, err := s.ListWorkers(ctx, a.ID, since)
	must(t, err, "ListWorkers")
	want := []store.Worker{{WorkspaceID: a.ID, ID: "w1", Host: "h1", Version: "1.2.3", Queues: []string{"default", "gpu"},
		Concurrency: 4, LastSeenAt: t0.Add(time.Second), Running: 2}}
	checkWorkers(t, "workspace a", got, want)

	all, err := s.ListWorkers(ctx, store.AnyWorkspace, since)
	must(t, err, "ListWorkers(any)")
	var names []string
	for _, w := range all {
		names = append(names, w.WorkspaceID+"/"+w.ID)
		if w.ID == "shared" && w.Running != 1 {
			t.Errorf("shared worker running = %d, want 1", w.Running)
		}
		if w.WorkspaceID == b.ID && w.Running != 0 {
			t.Errorf("b's w1 running = %d, want 0 (a's w1 holds a's tasks, not b's)", w.Running)
		}
	}
	wantNames := []string{"/shared", a.ID + "/w1", b.ID + "/w1"}
	if a.ID > b.ID {
		wantNames = []string{"/shared", b.ID + "/w1", a.ID + "/w1"}
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("ListWorkers(any) = %v, want %v", names, wantNames)
	}

	must(t, s.PruneWorkers(ctx, t0.Add(-time.Minute)), "PruneWorkers")
	old, err := s.ListWorkers(ctx, a.ID, time.Time{})
	must(t, err, "ListWorkers since zero")
	if len(old) != 1 || old[0].ID != "w1" {
		t.Errorf("after PruneWorkers, a's workers = %+v, want only w1", old)
	}
}

func checkWorkers(t *testing.T, what string, got, want []store.Worker) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: workers = %+v, want %+v", what, got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		checkTime(t, what+" last seen", g.LastSeenAt, w.LastSeenAt)
		g.LastSeenAt, w.LastSeenAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: worker %d = %+v, want %+v", what, i, g, w)
		}
	}
}

// testListQueues: a workspace's queues with their counts by status and
// oldest queued task, its own only; a queue whose tasks all moved on stays
// listed with no counts of the old status.
func testListQueues(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, _ := createWorkspace(t, s, "queues-a")
	b, _ := createWorkspace(t, s, "queues-b")
	got, err := s.ListQueues(ctx, a.ID)
	must(t, err, "ListQueues of a new workspace")
	if len(got) != 0 {
		t.Fatalf("ListQueues of a new workspace = %+v", got)
	}
	first := newTask(a.ID)
	first.CreatedAt, first.Priority = t0.Add(-time.Minute), -1 // oldest, claimed last
	createTask(t, s, first)
	addTasks(t, s, a.ID, 2)
	gpu := newTask(a.ID)
	gpu.Queue = "gpu"
	createTask(t, s, gpu)
	other := newTask(b.ID)
	other.Queue = "b-only"
	createTask(t, s, other)
	running := claim(t, s, params(a.ID, t0))
	gp := params(a.ID, t0)
	gp.Queues = []string{"gpu"}
	g := claim(t, s, gp)
	_, err = s.Complete(ctx, a.ID, g.ID, g.Attempt, succeed(t0))
	must(t, err, "Complete")

	got, err = s.ListQueues(ctx, a.ID)
	must(t, err, "ListQueues")
	if len(got) != 2 || got[0].Queue != api.DefaultQueue || got[1].Queue != "gpu" {
		t.Fatalf("ListQueues = %+v, want default and gpu", got)
	}
	if want := map[string]int{api.TaskQueued: 2, api.TaskRunning: 1}; !reflect.DeepEqual(got[0].Counts, want) {
		t.Errorf("default counts = %v, want %v", got[0].Counts, want)
	}
	if running.ID == first.ID {
		t.Fatalf("claimed the oldest task %s; the test needs it queued", first.ID)
	}
	// The oldest by id: first was created first (its id is the smallest).
	checkTime(t, "default oldest queued", got[0].OldestQueuedAt, first.CreatedAt)
	if want := map[string]int{api.TaskSucceeded: 1}; !reflect.DeepEqual(got[1].Counts, want) {
		t.Errorf("gpu counts = %v, want %v", got[1].Counts, want)
	}
	if !got[1].OldestQueuedAt.IsZero() {
		t.Errorf("gpu oldest queued = %v, want zero (none queued)", got[1].OldestQueuedAt)
	}
}
