package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// taskTests are the contract of store.TaskStore. No test sleeps: every
// call takes its time from the test.
var taskTests = []suiteTest{
	{"TaskCreateAndGet", testTaskCreateAndGet},
	{"TaskSucceeds", testTaskSucceeds},
	{"TaskRetriesThenFails", testTaskRetriesThenFails},
	{"TaskFailsWithoutRetry", testTaskFailsWithoutRetry},
	{"TaskCancel", testTaskCancel},
	{"TaskEnd", testTaskEnd},
	{"TaskHeartbeatAccrual", testTaskHeartbeatAccrual},
	{"TaskLeaseExpiryFencing", testTaskLeaseExpiryFencing},
	{"TaskLeaseExpiryFails", testTaskLeaseExpiryFails},
	{"TaskIdempotency", testTaskIdempotency},
	{"TaskConcurrentIdempotency", testTaskConcurrentIdempotency},
	{"TaskClaimFairness", testTaskClaimFairness},
	{"TaskClaimEligible", testTaskClaimEligible},
	{"TaskClaimOrder", testTaskClaimOrder},
	{"TaskClaimBatch", testTaskClaimBatch},
	{"TaskClaimFilters", testTaskClaimFilters},
	{"TaskEvents", testTaskEvents},
	{"TaskLogBudget", testTaskLogBudget},
	{"TaskStreams", testTaskStreams},
	{"ChildrenCost", testChildrenCost},
	{"TaskListAndCount", testTaskListAndCount},
	{"TaskDeleteWorkspace", testTaskDeleteWorkspace},
	{"TaskTenantIsolation", testTaskTenantIsolation},
	{"TaskConcurrentClaims", testTaskConcurrentClaims},
	{"TaskGroupCommit", testTaskGroupCommit},
	{"TaskAdmission", testTaskAdmission},
	{"QueueStats", testQueueStats},
	{"ClaimForSeveralWorkers", testClaimForSeveralWorkers},
	{"TaskCountsExact", testTaskCountsExact},
	{"CreateTasksBatch", testCreateTasksBatch},
	{"StepsJournalReplay", testStepsJournalReplay},
	{"StepsWaitSignal", testStepsWaitSignal},
	{"StepsSleepWake", testStepsSleepWake},
	{"StepsAtMostOnce", testStepsAtMostOnce},
	{"StepsBudget", testStepsBudget},
	{"StepsSpawn", testStepsSpawn},
	{"StepsChildSignal", testStepsChildSignal},
	{"StepsChildSignalMissed", testStepsChildSignalMissed},
}

// lease is the lease of every claim in the suite.
const lease = 30 * time.Second

// newTask returns a queued task of workspaceID, created and runnable at t0.
func newTask(workspaceID string) store.Task {
	return store.Task{
		ID:             ids.New(ids.Task),
		WorkspaceID:    workspaceID,
		Queue:          api.DefaultQueue,
		Status:         api.TaskQueued,
		Input:          json.RawMessage(`{"prompt":"hi"}`),
		Labels:         map[string]string{"env": "test"},
		MaxAttempts:    3,
		TimeoutSeconds: 60,
		RequestHash:    newHash(),
		RunAt:          t0,
		CreatedAt:      t0,
	}
}

// createTask creates task, which must be new.
func createTask(t *testing.T, s store.Store, task store.Task) store.Task {
	t.Helper()
	got, created, err := s.CreateTask(t.Context(), task, nil)
	must(t, err, "CreateTask")
	if !created {
		t.Fatalf("CreateTask %s: created = false", task.ID)
	}
	return got
}

// addTasks creates n tasks in workspaceID and returns them in order.
func addTasks(t *testing.T, s store.Store, workspaceID string, n int) []store.Task {
	t.Helper()
	out := make([]store.Task, n)
	for i := range out {
		out[i] = createTask(t, s, newTask(workspaceID))
	}
	return out
}

// params claims from workspaceID's default queue at now as worker w1.
func params(workspaceID string, now time.Time) store.ClaimParams {
	return store.ClaimParams{WorkspaceID: workspaceID, Queues: []string{api.DefaultQueue},
		WorkerID: "w1", Now: now, Lease: lease}
}

// claim claims one task with p, which must succeed.
func claim(t *testing.T, s store.Store, p store.ClaimParams) store.Task {
	t.Helper()
	got, err := claimOne(t.Context(), s, p)
	must(t, err, "ClaimTasks")
	return got
}

// claimOne claims one task with p (p.Max is ignored).
func claimOne(ctx context.Context, s store.Store, p store.ClaimParams) (store.Task, error) {
	p.Max = 1
	got, err := s.ClaimTasks(ctx, p)
	if err != nil {
		return store.Task{}, err
	}
	if len(got) != 1 {
		return store.Task{}, fmt.Errorf("ClaimTasks with Max 1 claimed %d tasks", len(got))
	}
	return got[0], nil
}

// noClaim checks that p claims nothing.
func noClaim(t *testing.T, s store.Store, p store.ClaimParams, what string) {
	t.Helper()
	got, err := s.ClaimTasks(t.Context(), p)
	wantErr(t, err, store.ErrNotFound, what)
	if len(got) != 0 {
		t.Errorf("%s: claimed %d tasks", what, len(got))
	}
}

// eligible is a Slots of one task for claims whose yes or no is ok.
func eligible(ok func(ws store.Workspace, running int, used store.Consumed) bool) func(store.Workspace, int, store.Consumed) int {
	return func(ws store.Workspace, running int, used store.Consumed) int {
		if ok(ws, running, used) {
			return 1
		}
		return 0
	}
}

func succeed(now time.Time) store.Outcome {
	return store.Outcome{Status: api.TaskSucceeded, Output: json.RawMessage(`{"ok":true}`), Now: now}
}

// snapshot is everything stored about one task.
type snapshot struct {
	Task     store.Task
	Attempts []store.Attempt
	Events   []store.TaskEvent
}

func snap(t *testing.T, s store.Store, workspaceID, id string) snapshot {
	t.Helper()
	var sn snapshot
	var err error
	sn.Task, err = s.GetTask(t.Context(), workspaceID, id)
	must(t, err, "GetTask")
	sn.Attempts, err = s.ListAttempts(t.Context(), workspaceID, id)
	must(t, err, "ListAttempts")
	sn.Events = events(t, s, workspaceID, id)
	return sn
}

// unchanged checks that nothing stored about the task of before changed.
func unchanged(t *testing.T, s store.Store, before snapshot, what string) {
	t.Helper()
	after := snap(t, s, before.Task.WorkspaceID, before.Task.ID)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("%s changed the task:\nbefore %+v\n after %+v", what, before, after)
	}
}

// events returns all of the task's events, checking seqs run 1, 2, 3 …
func events(t *testing.T, s store.Store, workspaceID, id string) []store.TaskEvent {
	t.Helper()
	evs, err := s.ListEvents(t.Context(), workspaceID, id, 0, 10000)
	must(t, err, "ListEvents")
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.TaskID != id || e.WorkspaceID != workspaceID {
			t.Fatalf("event %d = %+v: want seq %d of task %s in %s", i, e, i+1, id, workspaceID)
		}
	}
	return evs
}

// checkStates checks the statuses of the task's state events, in order.
func checkStates(t *testing.T, s store.Store, workspaceID, id string, want ...string) []store.TaskEvent {
	t.Helper()
	var got []string
	var states []store.TaskEvent
	for _, e := range events(t, s, workspaceID, id) {
		if e.Type == api.EventState {
			got = append(got, e.Status)
			states = append(states, e)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("state events = %v, want %v", got, want)
	}
	return states
}

// attempts returns the task's attempts, checking there are n.
func attempts(t *testing.T, s store.Store, workspaceID, id string, n int) []store.Attempt {
	t.Helper()
	as, err := s.ListAttempts(t.Context(), workspaceID, id)
	must(t, err, "ListAttempts")
	if len(as) != n {
		t.Fatalf("%d attempts, want %d: %+v", len(as), n, as)
	}
	for i, a := range as {
		if a.Number != i+1 || a.TaskID != id {
			t.Fatalf("attempt %d = %+v", i, a)
		}
	}
	return as
}

type usage struct{ exec, tokens, cost int64 }

func checkTaskUsage(t *testing.T, what string, got store.Task, want usage) {
	t.Helper()
	if g := (usage{got.ExecutionMS, got.Tokens, got.CostMicros}); g != want {
		t.Errorf("%s: task usage = %+v, want %+v", what, g, want)
	}
}

func checkAttemptUsage(t *testing.T, what string, got store.Attempt, want usage) {
	t.Helper()
	if g := (usage{got.ExecutionMS, got.Tokens, got.CostMicros}); g != want {
		t.Errorf("%s: attempt usage = %+v, want %+v", what, g, want)
	}
}

func checkStatus(t *testing.T, what string, got store.Task, status string, attempt int) {
	t.Helper()
	if got.Status != status || got.Attempt != attempt {
		t.Fatalf("%s: task is %s at attempt %d, want %s at attempt %d (reason %q, error %q)",
			what, got.Status, got.Attempt, status, attempt, got.StatusReason, got.Error)
	}
}

func ptr[T any](v T) *T { return &v }
