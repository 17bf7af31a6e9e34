package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func testTaskCreateAndGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	in := newTask(ws.ID)
	// Whitespace and key order survive: input reads back byte for byte.
	in.Input = json.RawMessage(`{"z": [1, 2.50], "a": "\u0000é"}`)
	in.Labels = map[string]string{"env": "prod", "team.name": "core"}
	in.Priority, in.MaxAttempts, in.TimeoutSeconds = -7, 5, 3600
	in.IdempotencyKey = "submit-1"
	in.RunAt = t0.Add(time.Minute)
	// Ignored: a new task is queued, unattempted, without outcome or usage.
	in.Status, in.Attempt, in.Output, in.Error = api.TaskRunning, 4, json.RawMessage(`1`), "x"
	in.WorkerID, in.ExecutionMS, in.Tokens, in.CostMicros = "w", 1, 2, 3
	in.StartedAt, in.FinishedAt, in.LeaseExpiresAt, in.AttemptStarted = ptr(t0), ptr(t0), ptr(t0), ptr(t0)

	want := in
	want.Status, want.Attempt, want.Output, want.Error = api.TaskQueued, 0, nil, ""
	want.WorkerID, want.ExecutionMS, want.Tokens, want.CostMicros = "", 0, 0, 0
	want.StartedAt, want.FinishedAt, want.LeaseExpiresAt, want.AttemptStarted = nil, nil, nil, nil

	created := createTask(t, s, in)
	checkTask(t, "CreateTask", created, want)
	got, err := s.GetTask(ctx, ws.ID, in.ID)
	must(t, err, "GetTask")
	checkTask(t, "GetTask", got, want)

	evs := checkStates(t, s, ws.ID, in.ID, api.TaskQueued)
	checkTime(t, "queued event At", evs[0].At, t0)
	if evs[0].Attempt != 0 {
		t.Errorf("queued event attempt = %d", evs[0].Attempt)
	}
	if as, err := s.ListAttempts(ctx, ws.ID, in.ID); err != nil || as == nil || len(as) != 0 {
		t.Errorf("ListAttempts of a new task = %v, %v; want empty, not nil", as, err)
	}

	// Defaults: RunAt is CreatedAt, labels empty, at least one attempt.
	bare := newTask(ws.ID)
	bare.RunAt, bare.Labels, bare.MaxAttempts, bare.RequestHash = time.Time{}, nil, 0, nil
	got = createTask(t, s, bare)
	checkTime(t, "default RunAt", got.RunAt, t0)
	if len(got.Labels) != 0 || got.MaxAttempts != 1 || got.RequestHash != nil {
		t.Errorf("defaults: labels %v, max attempts %d, hash %x", got.Labels, got.MaxAttempts, got.RequestHash)
	}

	_, err = s.GetTask(ctx, ws.ID, ids.New(ids.Task))
	wantErr(t, err, store.ErrNotFound, "GetTask of an unknown id")
	_, _, err = s.CreateTask(ctx, newTask(newWorkspace("ghost").ID), nil)
	wantErr(t, err, store.ErrNotFound, "CreateTask in an unknown workspace")
	dup := newTask(ws.ID)
	dup.ID = in.ID
	_, _, err = s.CreateTask(ctx, dup, nil)
	wantErr(t, err, store.ErrConflict, "CreateTask with a taken id")
}

// checkTask compares tasks, times to the microsecond in UTC.
func checkTask(t *testing.T, what string, got, want store.Task) {
	t.Helper()
	checkTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+" RunAt", got.RunAt, want.RunAt)
	checkTimePtr(t, what+" LeaseExpiresAt", got.LeaseExpiresAt, want.LeaseExpiresAt)
	checkTimePtr(t, what+" StartedAt", got.StartedAt, want.StartedAt)
	checkTimePtr(t, what+" FinishedAt", got.FinishedAt, want.FinishedAt)
	checkTimePtr(t, what+" AttemptStarted", got.AttemptStarted, want.AttemptStarted)
	for _, x := range []*store.Task{&got, &want} {
		x.CreatedAt, x.RunAt = time.Time{}, time.Time{}
		x.LeaseExpiresAt, x.StartedAt, x.FinishedAt, x.AttemptStarted = nil, nil, nil, nil
		if len(x.Labels) == 0 {
			x.Labels = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testTaskSucceeds(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))

	p := params(ws.ID, t0.Add(time.Second))
	p.WorkerID = "worker-7"
	got := claim(t, s, p)
	want := task
	want.Status, want.Attempt, want.WorkerID = api.TaskRunning, 1, "worker-7"
	want.LeaseExpiresAt = ptr(p.Now.Add(lease))
	want.StartedAt, want.AttemptStarted = ptr(p.Now), ptr(p.Now)
	checkTask(t, "ClaimTask", got, want)
	a := attempts(t, s, ws.ID, task.ID, 1)[0]
	if a.Status != api.TaskRunning || a.WorkerID != "worker-7" || a.FinishedAt != nil {
		t.Errorf("attempt after claim = %+v", a)
	}
	checkTime(t, "attempt StartedAt", a.StartedAt, p.Now)
	checkTime(t, "attempt HeartbeatAt", a.HeartbeatAt, p.Now)

	hb := p.Now.Add(2500 * time.Millisecond)
	got, err := s.Heartbeat(ctx, ws.ID, task.ID, 1, &store.Usage{Tokens: 100, CostMicros: 40}, hb, lease)
	must(t, err, "Heartbeat")
	checkTimePtr(t, "lease after heartbeat", got.LeaseExpiresAt, ptr(hb.Add(lease)))
	checkTaskUsage(t, "heartbeat", got, usage{2500, 100, 40})

	done := hb.Add(1500 * time.Millisecond)
	o := succeed(done)
	o.Usage = &store.Usage{Tokens: 250, CostMicros: 90}
	got, err = s.Complete(ctx, ws.ID, task.ID, 1, o)
	must(t, err, "Complete")
	want.Status, want.Output = api.TaskSucceeded, json.RawMessage(`{"ok":true}`)
	want.LeaseExpiresAt, want.FinishedAt = nil, ptr(done)
	want.ExecutionMS, want.Tokens, want.CostMicros = 4000, 250, 90
	checkTask(t, "Complete", got, want)
	stored, err := s.GetTask(ctx, ws.ID, task.ID)
	must(t, err, "GetTask")
	checkTask(t, "GetTask after Complete", stored, want)
	a = attempts(t, s, ws.ID, task.ID, 1)[0]
	if a.Status != api.TaskSucceeded || a.Error != "" {
		t.Errorf("attempt after success = %+v", a)
	}
	checkTimePtr(t, "attempt FinishedAt", a.FinishedAt, &done)
	checkAttemptUsage(t, "success", a, usage{4000, 250, 90})
	evs := checkStates(t, s, ws.ID, task.ID, api.TaskQueued, api.TaskRunning, api.TaskSucceeded)
	if evs[1].Attempt != 1 || evs[2].Attempt != 1 {
		t.Errorf("state events' attempts = %d, %d; want 1, 1", evs[1].Attempt, evs[2].Attempt)
	}
	checkTime(t, "running event At", evs[1].At, p.Now)
	checkTime(t, "succeeded event At", evs[2].At, done)

	// A terminal task never changes again.
	before := snap(t, s, ws.ID, task.ID)
	later := done.Add(time.Minute)
	_, err = s.Complete(ctx, ws.ID, task.ID, 1, succeed(later))
	wantErr(t, err, store.ErrStale, "Complete after success")
	got, err = s.Heartbeat(ctx, ws.ID, task.ID, 1, &store.Usage{Tokens: 999}, later, lease)
	wantErr(t, err, store.ErrStale, "Heartbeat after success")
	if got.ID != task.ID || got.Status != api.TaskSucceeded || got.Attempt != 1 {
		t.Errorf("stale Heartbeat returned %+v, want the succeeded task", got)
	}
	got, err = s.CancelTask(ctx, ws.ID, task.ID, "too late", later)
	wantErr(t, err, store.ErrConflict, "CancelTask after success")
	if got.ID != task.ID || got.Status != api.TaskSucceeded {
		t.Errorf("CancelTask of a terminal task returned %+v, want the task", got)
	}
	_, err = s.EndTask(ctx, ws.ID, task.ID, 1, api.TaskTerminated, "quota", later)
	wantErr(t, err, store.ErrStale, "EndTask after success")
	err = appendLogs(ctx, s, ws.ID, task.ID, 1, []string{"late"}, later)
	wantErr(t, err, store.ErrStale, "AppendLogs after success")
	if _, err := s.ExpireLeases(ctx, later.Add(time.Hour), nil); err != nil {
		t.Fatalf("ExpireLeases: %v", err)
	}
	noClaim(t, s, params(ws.ID, later), "ClaimTask after success")
	unchanged(t, s, before, "calls on a succeeded task")
}

func testTaskRetriesThenFails(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	in := newTask(ws.ID)
	in.MaxAttempts = 2
	task := createTask(t, s, in)

	now := t0.Add(time.Second)
	claim(t, s, params(ws.ID, now))
	retryAt := now.Add(10 * time.Second)
	got, err := s.Complete(ctx, ws.ID, task.ID, 1, store.Outcome{Status: api.TaskFailed, Error: "boom",
		Retryable: true, RetryAt: retryAt, Now: now.Add(time.Second), Usage: &store.Usage{Tokens: 10}})
	must(t, err, "Complete with a retryable failure")
	checkStatus(t, "after a retryable failure", got, api.TaskQueued, 1)
	checkTime(t, "RunAt after retry", got.RunAt, retryAt)
	if got.StatusReason != "retrying: boom" || got.LeaseExpiresAt != nil || got.FinishedAt != nil || got.WorkerID != "" {
		t.Errorf("requeued task = %+v", got)
	}
	checkTaskUsage(t, "after attempt 1", got, usage{1000, 10, 0})
	a := attempts(t, s, ws.ID, task.ID, 1)[0]
	if a.Status != api.TaskFailed || a.Error != "boom" || a.FinishedAt == nil {
		t.Errorf("failed attempt = %+v", a)
	}

	noClaim(t, s, params(ws.ID, retryAt.Add(-time.Microsecond)), "ClaimTask before RetryAt")
	got = claim(t, s, params(ws.ID, retryAt))
	checkStatus(t, "second claim", got, api.TaskRunning, 2)
	checkTimePtr(t, "StartedAt stays the first attempt's", got.StartedAt, &now)
	checkTimePtr(t, "AttemptStarted", got.AttemptStarted, &retryAt)
	if got.StatusReason != "" {
		t.Errorf("StatusReason after claim = %q", got.StatusReason)
	}

	end := retryAt.Add(2 * time.Second)
	got, err = s.Complete(ctx, ws.ID, task.ID, 2, store.Outcome{Status: api.TaskFailed, Error: "boom again",
		Retryable: true, RetryAt: end.Add(time.Hour), Now: end, Usage: &store.Usage{Tokens: 5, CostMicros: 7}})
	must(t, err, "Complete with the last attempt failing")
	checkStatus(t, "after the last attempt", got, api.TaskFailed, 2)
	if got.Error != "boom again" || got.LeaseExpiresAt != nil {
		t.Errorf("failed task = %+v", got)
	}
	checkTimePtr(t, "FinishedAt", got.FinishedAt, &end)
	checkTaskUsage(t, "after attempt 2", got, usage{3000, 15, 7})
	as := attempts(t, s, ws.ID, task.ID, 2)
	checkAttemptUsage(t, "attempt 1", as[0], usage{1000, 10, 0})
	checkAttemptUsage(t, "attempt 2", as[1], usage{2000, 5, 7})
	if as[1].Status != api.TaskFailed || as[1].Error != "boom again" {
		t.Errorf("attempt 2 = %+v", as[1])
	}
	evs := checkStates(t, s, ws.ID, task.ID,
		api.TaskQueued, api.TaskRunning, api.TaskQueued, api.TaskRunning, api.TaskFailed)
	if evs[2].Message != "retrying: boom" || evs[4].Message != "boom again" {
		t.Errorf("event messages %q, %q", evs[2].Message, evs[4].Message)
	}
	noClaim(t, s, params(ws.ID, end.Add(2*time.Hour)), "ClaimTask of a failed task")
}

func testTaskFailsWithoutRetry(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	got, err := s.Complete(ctx, ws.ID, task.ID, 1, store.Outcome{Status: api.TaskFailed, Error: "bad input", Now: t0})
	must(t, err, "Complete with a permanent failure")
	checkStatus(t, "after a permanent failure", got, api.TaskFailed, 1)
	if got.Error != "bad input" {
		t.Errorf("Error = %q", got.Error)
	}
	// An outcome that is neither success nor failure changes nothing.
	other := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	before := snap(t, s, ws.ID, other.ID)
	_, err = s.Complete(ctx, ws.ID, other.ID, 1, store.Outcome{Status: api.TaskCancelled, Now: t0})
	if err == nil {
		t.Fatal("Complete with status cancelled succeeded")
	}
	unchanged(t, s, before, "Complete with an invalid status")
}
