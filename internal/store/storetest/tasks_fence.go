package storetest

import (
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func testTaskCancel(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")

	// A queued task.
	queued := createTask(t, s, newTask(ws.ID))
	at := t0.Add(time.Minute)
	got, err := s.CancelTask(ctx, ws.ID, queued.ID, "changed my mind", at)
	must(t, err, "CancelTask of a queued task")
	checkStatus(t, "cancelled queued task", got, api.TaskCancelled, 0)
	if got.StatusReason != "changed my mind" {
		t.Errorf("StatusReason = %q", got.StatusReason)
	}
	checkTimePtr(t, "FinishedAt", got.FinishedAt, &at)
	evs := checkStates(t, s, ws.ID, queued.ID, api.TaskQueued, api.TaskCancelled)
	if evs[1].Message != "changed my mind" {
		t.Errorf("cancel event message = %q", evs[1].Message)
	}
	noClaim(t, s, params(ws.ID, at), "ClaimTask of a cancelled task")
	before := snap(t, s, ws.ID, queued.ID)
	got, err = s.CancelTask(ctx, ws.ID, queued.ID, "again", at.Add(time.Second))
	wantErr(t, err, store.ErrConflict, "CancelTask twice")
	if got.Status != api.TaskCancelled {
		t.Errorf("CancelTask twice returned %+v, want the cancelled task", got)
	}
	unchanged(t, s, before, "CancelTask twice")

	// A running task: its attempt is cancelled and fenced off.
	running := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	_, err = s.Heartbeat(ctx, ws.ID, running.ID, 1, &store.Usage{Tokens: 3}, t0.Add(time.Second), lease)
	must(t, err, "Heartbeat")
	got, err = s.CancelTask(ctx, ws.ID, running.ID, "stop", t0.Add(3*time.Second))
	must(t, err, "CancelTask of a running task")
	checkStatus(t, "cancelled running task", got, api.TaskCancelled, 1)
	if got.LeaseExpiresAt != nil {
		t.Errorf("cancelled task keeps its lease %v", got.LeaseExpiresAt)
	}
	checkTaskUsage(t, "cancel accrues up to now", got, usage{3000, 3, 0})
	a := attempts(t, s, ws.ID, running.ID, 1)[0]
	if a.Status != api.TaskCancelled || a.FinishedAt == nil {
		t.Errorf("attempt of a cancelled task = %+v", a)
	}
	before = snap(t, s, ws.ID, running.ID)
	got, err = s.Heartbeat(ctx, ws.ID, running.ID, 1, &store.Usage{Tokens: 50}, t0.Add(4*time.Second), lease)
	wantErr(t, err, store.ErrStale, "Heartbeat of a cancelled attempt")
	// What the server needs to tell the worker why to stop.
	if got.Status != api.TaskCancelled || got.Attempt != 1 || got.StatusReason != "stop" {
		t.Errorf("stale Heartbeat returned %+v, want the cancelled task", got)
	}
	_, err = s.Complete(ctx, ws.ID, running.ID, 1, succeed(t0.Add(5*time.Second)))
	wantErr(t, err, store.ErrStale, "Complete of a cancelled attempt")
	err = appendLogs(ctx, s, ws.ID, running.ID, 1, []string{"still here"}, t0.Add(5*time.Second))
	wantErr(t, err, store.ErrStale, "AppendLogs of a cancelled attempt")
	unchanged(t, s, before, "calls of a cancelled attempt")

	_, err = s.CancelTask(ctx, ws.ID, ids.New(ids.Task), "x", at)
	wantErr(t, err, store.ErrNotFound, "CancelTask of an unknown task")
}

func testTaskEnd(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	for _, status := range []string{api.TaskTimedOut, api.TaskTerminated} {
		task := createTask(t, s, newTask(ws.ID))
		claim(t, s, params(ws.ID, t0))
		before := snap(t, s, ws.ID, task.ID)
		_, err := s.EndTask(ctx, ws.ID, task.ID, 2, status, "wrong attempt", t0.Add(time.Second))
		wantErr(t, err, store.ErrStale, "EndTask of a future attempt")
		if _, err := s.EndTask(ctx, ws.ID, task.ID, 1, api.TaskSucceeded, "x", t0); err == nil {
			t.Error("EndTask to succeeded did not fail")
		}
		unchanged(t, s, before, "failed EndTask calls")

		now := t0.Add(7 * time.Second)
		got, err := s.EndTask(ctx, ws.ID, task.ID, 1, status, "ran too long", now)
		must(t, err, "EndTask "+status)
		checkStatus(t, "EndTask "+status, got, status, 1)
		if got.StatusReason != "ran too long" || got.LeaseExpiresAt != nil {
			t.Errorf("ended task = %+v", got)
		}
		checkTimePtr(t, "FinishedAt", got.FinishedAt, &now)
		checkTaskUsage(t, "EndTask accrues up to now", got, usage{7000, 0, 0})
		a := attempts(t, s, ws.ID, task.ID, 1)[0]
		if a.Status != status || a.FinishedAt == nil {
			t.Errorf("attempt after EndTask %s = %+v", status, a)
		}
		checkStates(t, s, ws.ID, task.ID, api.TaskQueued, api.TaskRunning, status)

		before = snap(t, s, ws.ID, task.ID)
		_, err = s.EndTask(ctx, ws.ID, task.ID, 1, api.TaskTerminated, "again", now.Add(time.Second))
		wantErr(t, err, store.ErrStale, "EndTask twice")
		got, err = s.Heartbeat(ctx, ws.ID, task.ID, 1, nil, now.Add(time.Second), lease)
		wantErr(t, err, store.ErrStale, "Heartbeat after EndTask")
		if got.Status != status {
			t.Errorf("stale Heartbeat returned status %q, want %q", got.Status, status)
		}
		_, err = s.CancelTask(ctx, ws.ID, task.ID, "x", now.Add(time.Second))
		wantErr(t, err, store.ErrConflict, "CancelTask after EndTask")
		unchanged(t, s, before, "calls after EndTask")
	}
	_, err := s.EndTask(ctx, ws.ID, ids.New(ids.Task), 1, api.TaskTimedOut, "x", t0)
	wantErr(t, err, store.ErrNotFound, "EndTask of an unknown task")
}

func testTaskHeartbeatAccrual(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	hb := func(d time.Duration, u *store.Usage) store.Task {
		t.Helper()
		got, err := s.Heartbeat(ctx, ws.ID, task.ID, 1, u, t0.Add(d), lease)
		must(t, err, "Heartbeat")
		return got
	}
	// Sub-millisecond steps add up: milliseconds follow the clock.
	for i := 1; i <= 10; i++ {
		hb(time.Duration(i)*400*time.Microsecond, nil)
	}
	got := hb(time.Second, &store.Usage{Tokens: 500, CostMicros: 20})
	checkTaskUsage(t, "after 1 s", got, usage{1000, 500, 20})
	// A clock behind the last heartbeat accrues nothing and takes nothing
	// back; usage totals never go down.
	got = hb(500*time.Millisecond, &store.Usage{Tokens: 100, CostMicros: 5})
	checkTaskUsage(t, "clock behind", got, usage{1000, 500, 20})
	checkTimePtr(t, "lease from a clock behind", got.LeaseExpiresAt, ptr(t0.Add(500*time.Millisecond+lease)))
	got = hb(2*time.Second, &store.Usage{Tokens: 600})
	checkTaskUsage(t, "after 2 s", got, usage{2000, 600, 20})
	a := attempts(t, s, ws.ID, task.ID, 1)[0]
	checkAttemptUsage(t, "attempt", a, usage{2000, 600, 20})
	checkTime(t, "attempt HeartbeatAt", a.HeartbeatAt, t0.Add(2*time.Second))
	// Heartbeats are no transitions.
	checkStates(t, s, ws.ID, task.ID, api.TaskQueued, api.TaskRunning)

	// Task totals sum the attempts.
	_, err := s.Complete(ctx, ws.ID, task.ID, 1, store.Outcome{Status: api.TaskFailed, Error: "x", Retryable: true,
		RetryAt: t0.Add(time.Minute), Now: t0.Add(3 * time.Second), Usage: &store.Usage{Tokens: 700, CostMicros: 30}})
	must(t, err, "Complete")
	claim(t, s, params(ws.ID, t0.Add(time.Minute)))
	got, err = s.Heartbeat(ctx, ws.ID, task.ID, 2, &store.Usage{Tokens: 50, CostMicros: 1}, t0.Add(time.Minute+time.Second), lease)
	must(t, err, "Heartbeat of attempt 2")
	checkTaskUsage(t, "two attempts", got, usage{4000, 750, 31})

	_, err = s.Heartbeat(ctx, ws.ID, ids.New(ids.Task), 1, nil, t0, lease)
	wantErr(t, err, store.ErrNotFound, "Heartbeat of an unknown task")
}

func testTaskLeaseExpiryFencing(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	_, err := s.Heartbeat(ctx, ws.ID, task.ID, 1, &store.Usage{Tokens: 100, CostMicros: 10}, t0.Add(10*time.Second), lease)
	must(t, err, "Heartbeat")
	leaseEnd := t0.Add(10*time.Second + lease)

	// Not yet expired: at the very end of the lease nothing happens.
	got, err := s.ExpireLeases(ctx, leaseEnd, nil)
	must(t, err, "ExpireLeases at the lease end")
	if len(got) != 0 {
		t.Fatalf("ExpireLeases before expiry changed %+v", got)
	}
	var backoffOf []int
	backoff := func(attempt int) time.Duration { backoffOf = append(backoffOf, attempt); return 5 * time.Second }
	now := leaseEnd.Add(time.Millisecond)
	got, err = s.ExpireLeases(ctx, now, backoff)
	must(t, err, "ExpireLeases")
	if len(got) != 1 || got[0].ID != task.ID {
		t.Fatalf("ExpireLeases changed %+v, want task %s", got, task.ID)
	}
	if len(backoffOf) != 1 || backoffOf[0] != 1 {
		t.Errorf("backoff called with %v, want [1]", backoffOf)
	}
	checkStatus(t, "expired task", got[0], api.TaskQueued, 1)
	checkTime(t, "RunAt after expiry", got[0].RunAt, now.Add(5*time.Second))
	if got[0].StatusReason != "lease expired" || got[0].LeaseExpiresAt != nil {
		t.Errorf("requeued task = %+v", got[0])
	}
	// Nothing accrues past the last heartbeat.
	checkTaskUsage(t, "expired", got[0], usage{10000, 100, 10})
	a := attempts(t, s, ws.ID, task.ID, 1)[0]
	if a.Status != store.AttemptExpired {
		t.Errorf("expired attempt status = %q", a.Status)
	}
	checkAttemptUsage(t, "expired attempt", a, usage{10000, 100, 10})
	checkStates(t, s, ws.ID, task.ID, api.TaskQueued, api.TaskRunning, api.TaskQueued)

	// A second worker takes over; the first one's calls are fenced off.
	noClaim(t, s, params(ws.ID, now), "ClaimTask during the backoff")
	p := params(ws.ID, now.Add(5*time.Second))
	p.WorkerID = "w2"
	second := claim(t, s, p)
	checkStatus(t, "second claim", second, api.TaskRunning, 2)
	before := snap(t, s, ws.ID, task.ID)
	late := now.Add(6 * time.Second)
	stale, err := s.Heartbeat(ctx, ws.ID, task.ID, 1, &store.Usage{Tokens: 9999, CostMicros: 9999}, late, lease)
	wantErr(t, err, store.ErrStale, "Heartbeat of attempt 1")
	if stale.Attempt != 2 || stale.Status != api.TaskRunning {
		t.Errorf("stale Heartbeat returned %+v, want the task at attempt 2", stale)
	}
	o := succeed(late)
	o.Usage = &store.Usage{Tokens: 9999}
	_, err = s.Complete(ctx, ws.ID, task.ID, 1, o)
	wantErr(t, err, store.ErrStale, "Complete of attempt 1")
	_, err = s.Complete(ctx, ws.ID, task.ID, 1, store.Outcome{Status: api.TaskFailed, Error: "x", Now: late})
	wantErr(t, err, store.ErrStale, "failing attempt 1")
	err = appendLogs(ctx, s, ws.ID, task.ID, 1, []string{"zombie"}, late)
	wantErr(t, err, store.ErrStale, "AppendLogs of attempt 1")
	_, err = s.EndTask(ctx, ws.ID, task.ID, 1, api.TaskTimedOut, "x", late)
	wantErr(t, err, store.ErrStale, "EndTask of attempt 1")
	unchanged(t, s, before, "attempt 1's calls")

	// Attempt 2 goes on normally.
	_, err = s.Complete(ctx, ws.ID, task.ID, 2, succeed(late))
	must(t, err, "Complete of attempt 2")
}

func testTaskLeaseExpiryFails(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	in := newTask(ws.ID)
	in.MaxAttempts = 2
	task := createTask(t, s, in)
	other, _ := createWorkspace(t, s, "other")

	now := t0
	for attempt := 1; attempt <= 2; attempt++ {
		claim(t, s, params(ws.ID, now))
		now = now.Add(lease + time.Second)
		got, err := s.ExpireLeases(ctx, now, nil) // nil backoff: requeue at now
		must(t, err, "ExpireLeases")
		if len(got) != 1 {
			t.Fatalf("ExpireLeases changed %d tasks, want 1", len(got))
		}
	}
	got, err := s.GetTask(ctx, ws.ID, task.ID)
	must(t, err, "GetTask")
	checkStatus(t, "after two expired leases", got, api.TaskFailed, 2)
	if got.Error != "lease expired after 2 attempts" {
		t.Errorf("Error = %q", got.Error)
	}
	checkTimePtr(t, "FinishedAt", got.FinishedAt, &now)
	checkStates(t, s, ws.ID, task.ID, api.TaskQueued, api.TaskRunning, api.TaskQueued, api.TaskRunning, api.TaskFailed)

	// The reaper serves every workspace at once.
	var tasks []store.Task
	for _, w := range []string{ws.ID, other.ID} {
		tasks = append(tasks, createTask(t, s, newTask(w)))
		claim(t, s, params(w, now))
	}
	got2, err := s.ExpireLeases(ctx, now.Add(time.Hour), nil)
	must(t, err, "ExpireLeases")
	if len(got2) != 2 {
		t.Fatalf("ExpireLeases across workspaces changed %d tasks, want 2", len(got2))
	}
	for _, tk := range tasks {
		g, err := s.GetTask(ctx, tk.WorkspaceID, tk.ID)
		must(t, err, "GetTask")
		checkStatus(t, "expired task", g, api.TaskQueued, 1)
	}
}
