package tasks_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// The join of a fan-out (docs/steps.md "Fan-out and join"): each child's
// end, however it ends, is one child:<id> signal to its parent.

// joinBundle is setup's service again, logging into log.
type joinBundle struct {
	*bundle
	log testutil.SyncBuffer
}

func setupJoin(t *testing.T) *joinBundle {
	j := &joinBundle{bundle: setup(t)}
	j.limits.MaxTaskDurationSeconds = 60
	j.svc = tasks.New(tasks.Config{Store: j.store, Now: j.clock.Now, Limits: func(store.Workspace) api.Limits { return *j.limits },
		Log: slog.New(slog.NewTextHandler(&j.log, nil))})
	return j
}

// step begins step key of attempt of task id.
func (j *joinBundle) step(t *testing.T, id, key string, req api.StepBeginRequest) api.StepBeginResponse {
	t.Helper()
	got, err := j.svc.BeginStep(t.Context(), j.ws, id, key, req)
	if err != nil {
		t.Fatalf("step %s of %s: %v", key, id, err)
	}
	return got
}

// spawn spawns a child of attempt of id without waiting and returns its id.
func (j *joinBundle) spawn(t *testing.T, id string, attempt int) string {
	t.Helper()
	got := j.step(t, id, "kid", api.StepBeginRequest{Attempt: attempt, Kind: api.StepSpawn, Input: json.RawMessage(`{}`)})
	var out struct {
		TaskID string `json:"task_id"`
	}
	if got.Action != api.ActionDone || json.Unmarshal(got.Output, &out) != nil || out.TaskID == "" {
		t.Fatalf("spawn = %+v", got)
	}
	return out.TaskID
}

// join waits for child's end signal in attempt of id.
func (j *joinBundle) join(t *testing.T, id string, attempt int, child string) (api.StepBeginResponse, api.ChildOutcome) {
	t.Helper()
	got := j.step(t, id, "join", api.StepBeginRequest{Attempt: attempt, Kind: api.StepWait, Signal: api.ChildSignal(child)})
	var o api.ChildOutcome
	if got.Action == api.ActionDone {
		if err := json.Unmarshal(got.Output, &o); err != nil {
			t.Fatalf("join %s output %s: %v", got.Key, got.Output, err)
		}
	}
	return got, o
}

// wakes counts the task's wake-ups by a child's end.
func (j *joinBundle) wakes(t *testing.T, id string) int {
	t.Helper()
	events, err := j.store.ListEvents(t.Context(), j.ws.ID, id, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Type == api.EventState && strings.HasPrefix(e.Message, "child ") {
			n++
		}
	}
	return n
}

// TestChildEndSignalsItsParentOnce: four children end succeeded, failed,
// cancelled and timed out; the parent, waiting for the first, is woken
// once, and its next attempt joins all four at once, each signal delivered
// once; a child that ends after its parent did is not an error.
func TestChildEndSignalsItsParentOnce(t *testing.T) {
	j := setupJoin(t)
	j.mustSubmit(t, 1)
	parent := j.claim(t, 1)[0]
	var kids []string
	for range 5 {
		kids = append(kids, j.spawn(t, parent.ID, 1))
	}
	if got, _ := j.join(t, parent.ID, 1, kids[0]); got.Action != api.ActionSuspend {
		t.Fatalf("join of a running child = %+v, want suspend", got)
	}
	if n := len(j.claim(t, 10)); n != 5 {
		t.Fatalf("claimed %d children, want 5 (the parent waits)", n)
	}
	ctx := t.Context()
	if _, err := j.svc.Complete(ctx, j.ws.ID, kids[0], 1, json.RawMessage(`{"n":0}`), nil); err != nil {
		t.Fatal(err)
	}
	if p, _ := j.store.GetTask(ctx, j.ws.ID, parent.ID); p.Status != api.TaskQueued {
		t.Fatalf("parent after its awaited child = %s %q, want queued", p.Status, p.StatusReason)
	}
	if _, err := j.svc.Fail(ctx, j.ws.ID, kids[1], 1, "boom", false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := j.svc.Cancel(ctx, j.ws.ID, kids[2], "enough"); err != nil {
		t.Fatal(err)
	}
	j.clock.Advance(61 * time.Second)
	for _, k := range kids[3:4] {
		if beat, err := j.svc.Heartbeat(ctx, j.ws, k, 1, nil); err != nil || beat.Reason != api.TaskTimedOut {
			t.Fatalf("heartbeat past the timeout = %+v, %v", beat, err)
		}
	}
	if n := j.wakes(t, parent.ID); n != 1 {
		t.Errorf("the parent was woken %d times by its children, want once", n)
	}

	// Attempt 2 replays the spawns and joins every child at once.
	if got := j.claim(t, 1); len(got) != 1 || got[0].ID != parent.ID || got[0].Attempt != 2 {
		t.Fatalf("claim = %+v, want the parent's attempt 2", got)
	}
	for i := range kids {
		if k := j.spawn(t, parent.ID, 2); k != kids[i] {
			t.Fatalf("spawn replay %d = %s, want %s", i, k, kids[i])
		}
	}
	want := []api.ChildOutcome{
		{TaskID: kids[0], Status: api.TaskSucceeded, Output: json.RawMessage(`{"n":0}`)},
		{TaskID: kids[1], Status: api.TaskFailed, Output: json.RawMessage(`null`), Error: "boom"},
		{TaskID: kids[2], Status: api.TaskCancelled, Output: json.RawMessage(`null`), Error: "enough"},
		{TaskID: kids[3], Status: api.TaskTimedOut, Output: json.RawMessage(`null`), Error: "ran past its timeout of 1m0s"},
	}
	for i, w := range want {
		got, o := j.join(t, parent.ID, 2, kids[i])
		if got.Action != api.ActionDone || o.TaskID != w.TaskID || o.Status != w.Status || string(o.Output) != string(w.Output) || o.Error != w.Error {
			t.Errorf("join of child %d = %s %+v (output %s), want %+v (output %s)", i, got.Action, o, o.Output, w, w.Output)
		}
	}
	// Delivered once: a second join of the first child waits.
	if got, _ := j.join(t, parent.ID, 2, kids[0]); got.Action != api.ActionSuspend {
		t.Errorf("a second join of one child = %+v, want suspend", got)
	}
	// The parent ends; its last child's end is ignored without an error.
	if _, err := j.svc.Cancel(ctx, j.ws.ID, parent.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if got, err := j.svc.Complete(ctx, j.ws.ID, kids[4], 1, nil, nil); err != nil || got.Status != api.TaskSucceeded {
		t.Fatalf("the child of an ended parent = %s, %v", got.Status, err)
	}
	if log := j.log.String(); strings.Contains(log, "wake parent") {
		t.Errorf("waking a parent logged an error:\n%s", log)
	}
}

// TestSpawnWaitIsWokenOnce: a spawn that waits for its child is woken once
// by the child's end (the child:<id> signal comes too, but wakes nothing
// more) and its replay answers the child's output.
func TestSpawnWaitIsWokenOnce(t *testing.T) {
	j := setupJoin(t)
	j.mustSubmit(t, 1)
	parent := j.claim(t, 1)[0]
	spawn := api.StepBeginRequest{Attempt: 1, Kind: api.StepSpawn, Input: json.RawMessage(`{}`), Wait: true}
	if got := j.step(t, parent.ID, "kid", spawn); got.Action != api.ActionSuspend {
		t.Fatalf("spawn --wait = %+v, want suspend", got)
	}
	kid := j.claim(t, 1)[0]
	if kid.ParentID != parent.ID {
		t.Fatalf("claimed %s (parent %q), want the child", kid.ID, kid.ParentID)
	}
	if _, err := j.svc.Complete(t.Context(), j.ws.ID, kid.ID, 1, json.RawMessage(`"out"`), nil); err != nil {
		t.Fatal(err)
	}
	if n := j.wakes(t, parent.ID); n != 1 {
		t.Fatalf("the spawn --wait parent was woken %d times, want once", n)
	}
	if got := j.claim(t, 10); len(got) != 1 || got[0].ID != parent.ID {
		t.Fatalf("claim after the child = %+v, want only the parent", got)
	}
	spawn.Attempt = 2
	if got := j.step(t, parent.ID, "kid", spawn); got.Action != api.ActionDone || string(got.Output) != `"out"` {
		t.Errorf("spawn --wait replay = %+v, want done with the child's output", got)
	}
	if got, err := j.svc.Complete(t.Context(), j.ws.ID, parent.ID, 2, nil, nil); err != nil || got.Status != api.TaskSucceeded {
		t.Errorf("parent = %s, %v", got.Status, err)
	}
	if n := j.wakes(t, parent.ID); n != 1 {
		t.Errorf("the parent was woken %d times in all, want once", n)
	}
}
