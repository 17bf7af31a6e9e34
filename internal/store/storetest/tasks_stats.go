package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// testQueueStats: QueueStats counts every workspace's tasks per queue and
// status, held tasks among the queued, with the oldest queued task's
// creation per queue.
func testQueueStats(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.QueueStats(ctx)
	must(t, err, "QueueStats of an empty store")
	if len(got) != 0 {
		t.Fatalf("QueueStats of an empty store = %+v", got)
	}

	a, _ := createWorkspace(t, s, "acme")
	b, _ := createWorkspace(t, s, "globex")
	at := func(task store.Task, created time.Time) store.Task {
		task.CreatedAt, task.RunAt = created, created
		return task
	}
	a1 := createTask(t, s, at(newTask(a.ID), t0))
	a2 := createTask(t, s, at(newTask(a.ID), t0.Add(time.Second)))
	hot := at(newTask(a.ID), t0.Add(2*time.Second))
	hot.Priority = 10
	createTask(t, s, hot)
	// In another workspace and queue: a held task (its RunAt is later)
	// created an hour before, and a runnable one.
	held := at(newTask(b.ID), t0.Add(-time.Hour))
	held.Queue, held.RunAt = "q2", t0.Add(time.Hour)
	createTask(t, s, held)
	other := at(newTask(b.ID), t0)
	other.Queue = "q2"
	createTask(t, s, other)

	if c := claim(t, s, params(a.ID, t0.Add(5*time.Second))); c.ID != hot.ID {
		t.Fatalf("claimed %s, want the high-priority task %s", c.ID, hot.ID)
	}
	_, err = s.CancelTask(ctx, a.ID, a2.ID, "test", t0.Add(6*time.Second))
	must(t, err, "CancelTask")

	got, err = s.QueueStats(ctx)
	must(t, err, "QueueStats")
	want := []store.QueueStat{
		{Queue: api.DefaultQueue, Status: api.TaskCancelled, Count: 1},
		{Queue: api.DefaultQueue, Status: api.TaskQueued, Count: 1, OldestCreatedAt: a1.CreatedAt},
		{Queue: api.DefaultQueue, Status: api.TaskRunning, Count: 1},
		{Queue: "q2", Status: api.TaskQueued, Count: 2, OldestCreatedAt: held.CreatedAt},
	}
	if len(got) != len(want) {
		t.Fatalf("QueueStats = %+v, want %+v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.Queue != w.Queue || g.Status != w.Status || g.Count != w.Count {
			t.Fatalf("QueueStats[%d] = %+v, want %+v", i, g, w)
		}
		if w.OldestCreatedAt.IsZero() {
			if !g.OldestCreatedAt.IsZero() {
				t.Errorf("QueueStats oldest of %s/%s = %v, want zero (only queued tasks have one)", w.Queue, w.Status, g.OldestCreatedAt)
			}
			continue
		}
		checkTime(t, "QueueStats oldest of "+w.Queue+"/"+w.Status, g.OldestCreatedAt, w.OldestCreatedAt)
	}

	// The same tasks counted per workspace.
	for status, want := range map[string]map[string]int{
		api.TaskQueued:    {a.ID: 1, b.ID: 2},
		api.TaskRunning:   {a.ID: 1},
		api.TaskSucceeded: {},
	} {
		got, err := s.CountAllTasks(ctx, status)
		must(t, err, "CountAllTasks")
		if !reflect.DeepEqual(got, want) {
			t.Errorf("CountAllTasks(%s) = %v, want %v", status, got, want)
		}
	}
}
