package tasks_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// The lifecycle rules on a real (SQLite) store, with the clock in the
// test's hands.

var t0 = time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)

type bundle struct {
	svc    *tasks.Service
	store  *sqlite.Store
	ws     store.Workspace
	clock  *testutil.Clock
	limits *api.Limits
}

// setup returns a service over a fresh SQLite store with one workspace
// whose limits the test may change (b.limits) before it acts.
func setup(t testing.TB) *bundle {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "baton.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	ws := store.Workspace{ID: ids.New(ids.Workspace), Name: "acme", Tier: "free", Status: api.WorkspaceActive,
		Overrides: api.Overrides{}, CreatedAt: t0, UpdatedAt: t0}
	key := store.Key{ID: ids.New(ids.Key), WorkspaceID: ws.ID, Name: "k", Prefix: "bk_x", Hash: []byte(ws.ID),
		Scopes: []string{api.ScopeAll}, CreatedAt: t0}
	if err := st.CreateWorkspace(t.Context(), ws, key); err != nil {
		t.Fatal(err)
	}
	limits := &api.Limits{MaxConcurrentTasks: 10, MaxQueuedTasks: 100, MaxTaskDurationSeconds: 3600,
		MonthlyTaskExecutions: 1000, MonthlyExecutionSeconds: 3600, MonthlySpendMicros: 5_000_000}
	c := testutil.NewClock(t0)
	svc := tasks.New(tasks.Config{Store: st, Now: c.Now, Limits: func(store.Workspace) api.Limits { return *limits },
		Backoff: tasks.Backoff{Base: 10 * time.Second, Max: time.Minute, Rand: func() float64 { return 0 }}})
	return &bundle{svc: svc, store: st, ws: ws, clock: c, limits: limits}
}

func (b *bundle) submit(t *testing.T, idem string) (store.Task, bool, error) {
	t.Helper()
	now := b.clock.Now()
	return b.svc.Submit(t.Context(), b.ws, store.Task{ID: ids.NewAt(ids.Task, now), WorkspaceID: b.ws.ID, Queue: api.DefaultQueue,
		Input: []byte(`{}`), MaxAttempts: 3, IdempotencyKey: idem, RequestHash: []byte("h"), CreatedAt: now, RunAt: now})
}

func (b *bundle) mustSubmit(t *testing.T, n int) {
	t.Helper()
	for range n {
		if _, _, err := b.submit(t, ""); err != nil {
			t.Fatalf("submit: %v", err)
		}
	}
}

func (b *bundle) claim(t *testing.T, max int) []store.Task {
	t.Helper()
	got, err := b.svc.Claim(t.Context(), b.ws.ID, []string{api.DefaultQueue}, "w1", max, 0)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return got
}

func TestSubmitAdmission(t *testing.T) {
	b := setup(t)
	b.limits.MaxQueuedTasks = 2
	b.mustSubmit(t, 1)
	first, created, err := b.submit(t, "again")
	if err != nil || !created {
		t.Fatalf("second submit = %v, %v", created, err)
	}
	_, _, err = b.submit(t, "")
	var qe *tasks.QuotaError
	if !errors.As(err, &qe) || qe.Quota != api.QuotaQueued || qe.RetryAfter != 0 {
		t.Fatalf("submit at the queued cap = %v, want the queued quota without Retry-After", err)
	}
	// A replay at the cap is answered with its task, not refused.
	got, created, err := b.submit(t, "again")
	if err != nil || created || got.ID != first.ID {
		t.Errorf("replay at the cap = %s, %v, %v; want %s, not created", got.ID, created, err, first.ID)
	}
	// Monthly executions used up: refused until the period resets.
	b.limits.MaxQueuedTasks, b.limits.MonthlyTaskExecutions = 100, 0
	_, _, err = b.submit(t, "")
	if !errors.As(err, &qe) || qe.Quota != api.QuotaTaskExecutions || qe.RetryAfter <= 0 ||
		!strings.Contains(qe.Detail, "monthly task executions used up") {
		t.Fatalf("submit with executions used up = %v, want the executions quota with Retry-After", err)
	}
}

func TestClaimHonoursSlots(t *testing.T) {
	b := setup(t)
	b.limits.MaxConcurrentTasks = 2
	b.mustSubmit(t, 5)
	if got := b.claim(t, 5); len(got) != 2 {
		t.Fatalf("claim of 5 under a cap of 2 took %d", len(got))
	}
	if got := b.claim(t, 5); len(got) != 0 {
		t.Fatalf("claim at the cap took %d", len(got))
	}
	// Executions left bound a batch too.
	b.limits.MaxConcurrentTasks, b.limits.MonthlyTaskExecutions = 10, 3
	if got := b.claim(t, 5); len(got) != 1 {
		t.Errorf("claim with 1 execution left took %d", len(got))
	}
	reason, err := b.svc.HoldReason(t.Context(), b.ws)
	if err != nil || !strings.HasPrefix(reason, "held: monthly task executions used up") {
		t.Errorf("HoldReason = %q, %v", reason, err)
	}
}

func TestHeartbeatTimesOut(t *testing.T) {
	b := setup(t)
	b.limits.MaxTaskDurationSeconds = 60
	b.mustSubmit(t, 1)
	task := b.claim(t, 1)[0]
	b.clock.Advance(30 * time.Second)
	beat, err := b.svc.Heartbeat(t.Context(), b.ws, task.ID, 1, nil)
	if err != nil || beat.Cancel || beat.Task.LeaseExpiresAt == nil {
		t.Fatalf("heartbeat within the limit = %+v, %v", beat, err)
	}
	b.clock.Advance(31 * time.Second)
	beat, err = b.svc.Heartbeat(t.Context(), b.ws, task.ID, 1, nil)
	if err != nil || !beat.Cancel || beat.Reason != api.TaskTimedOut {
		t.Fatalf("heartbeat past the limit = %+v, %v; want cancel timed_out", beat, err)
	}
	got, _ := b.store.GetTask(t.Context(), b.ws.ID, task.ID)
	if got.Status != api.TaskTimedOut || got.StatusReason != "ran past its timeout of 1m0s" || got.ExecutionMS != 61_000 {
		t.Errorf("task = %s %q %d ms; want timed_out after 61 s", got.Status, got.StatusReason, got.ExecutionMS)
	}
	// The same attempt asking again is told again.
	beat, err = b.svc.Heartbeat(t.Context(), b.ws, task.ID, 1, nil)
	if err != nil || !beat.Cancel || beat.Reason != api.TaskTimedOut {
		t.Errorf("heartbeat after the end = %+v, %v", beat, err)
	}
	// Another attempt is stale.
	if _, err := b.svc.Heartbeat(t.Context(), b.ws, task.ID, 2, nil); !errors.Is(err, store.ErrStale) {
		t.Errorf("heartbeat of another attempt = %v, want ErrStale", err)
	}
}

func TestHeartbeatTerminatesAtQuota(t *testing.T) {
	b := setup(t)
	b.limits.MonthlyExecutionSeconds = 30
	b.mustSubmit(t, 2)
	claimed := b.claim(t, 2)
	b.clock.Advance(31 * time.Second)
	beat, err := b.svc.Heartbeat(t.Context(), b.ws, claimed[0].ID, 1, nil)
	if err != nil || !beat.Cancel || beat.Reason != tasks.ReasonQuota {
		t.Fatalf("heartbeat using up execution seconds = %+v, %v; want cancel %s", beat, err, tasks.ReasonQuota)
	}
	got, _ := b.store.GetTask(t.Context(), b.ws.ID, claimed[0].ID)
	if got.Status != api.TaskTerminated || !strings.HasPrefix(got.StatusReason, "quota_exceeded: monthly execution seconds used up (31/30)") {
		t.Errorf("task = %s %q; want terminated for execution seconds", got.Status, got.StatusReason)
	}
	// The other running task stops at its next heartbeat, spend too.
	beat, err = b.svc.Heartbeat(t.Context(), b.ws, claimed[1].ID, 1, &store.Usage{CostMicros: 1})
	if err != nil || !beat.Cancel || beat.Reason != tasks.ReasonQuota {
		t.Errorf("second task's heartbeat = %+v, %v", beat, err)
	}
}

func TestFailRetriesAfterBackoff(t *testing.T) {
	b := setup(t)
	b.mustSubmit(t, 1)
	task := b.claim(t, 1)[0]
	got, err := b.svc.Fail(t.Context(), b.ws.ID, task.ID, 1, strings.Repeat("x", tasks.MaxErrorBytes+10), true, nil)
	if err != nil || got.Status != api.TaskQueued {
		t.Fatalf("retryable failure = %s, %v; want queued", got.Status, err)
	}
	if want := b.clock.Now().Add(5 * time.Second); !got.RunAt.Equal(want) {
		t.Errorf("retry at %v, want %v (half the 10 s base with no jitter)", got.RunAt, want)
	}
	if len(got.StatusReason) > len("retrying: ")+tasks.MaxErrorBytes {
		t.Errorf("status reason of %d bytes: the error was not cut", len(got.StatusReason))
	}
	if n := len(b.claim(t, 1)); n != 0 {
		t.Fatalf("claimed during the backoff")
	}
	b.clock.Advance(5 * time.Second)
	again := b.claim(t, 1)
	if len(again) != 1 || again[0].Attempt != 2 {
		t.Fatalf("claim after the backoff = %+v", again)
	}
	done, err := b.svc.Complete(t.Context(), b.ws.ID, task.ID, 2, nil, &store.Usage{Tokens: 7})
	if err != nil || done.Status != api.TaskSucceeded || string(done.Output) != "null" || done.Tokens != 7 {
		t.Errorf("complete = %s %s tokens %d, %v", done.Status, done.Output, done.Tokens, err)
	}
	if _, err := b.svc.Complete(t.Context(), b.ws.ID, task.ID, 1, nil, nil); !errors.Is(err, store.ErrStale) {
		t.Errorf("completion of the first attempt = %v, want ErrStale", err)
	}
}

func TestCancelWakesFollowers(t *testing.T) {
	b := setup(t)
	b.mustSubmit(t, 1)
	task := b.claim(t, 1)[0]
	ch, done := b.svc.Subscribe(tasks.TaskTopic(task.ID))
	defer done()
	got, err := b.svc.Cancel(context.Background(), b.ws.ID, task.ID, "by test")
	if err != nil || got.Status != api.TaskCancelled {
		t.Fatalf("cancel = %s, %v", got.Status, err)
	}
	select {
	case <-ch:
	default:
		t.Error("cancel did not wake the task's followers")
	}
	beat, err := b.svc.Heartbeat(t.Context(), b.ws, task.ID, 1, nil)
	if err != nil || !beat.Cancel || beat.Reason != api.TaskCancelled {
		t.Errorf("heartbeat after cancel = %+v, %v", beat, err)
	}
	if _, err := b.svc.Cancel(t.Context(), b.ws.ID, task.ID, "again"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second cancel = %v, want ErrConflict", err)
	}
}

// TestRacingSubmitsHoldTheQueuedCap: 20 submits at once against a cap of 5
// queued tasks (they are batched: createTogether) make exactly 5, the rest
// refused with the queued-task quota; two racing submits of one
// Idempotency-Key make one task.
func TestRacingSubmitsHoldTheQueuedCap(t *testing.T) {
	b := setup(t)
	b.limits.MaxQueuedTasks = 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, refused := 0, 0
	for i := range 20 {
		wg.Go(func() {
			_, created, err := b.submit(t, "")
			mu.Lock()
			defer mu.Unlock()
			var qe *tasks.QuotaError
			switch {
			case err == nil && created:
				made++
			case errors.As(err, &qe):
				refused++
			default:
				t.Errorf("submit %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if made != 5 || refused != 15 {
		t.Fatalf("made %d, refused %d; want 5 and 15", made, refused)
	}
	b.limits.MaxQueuedTasks = 100
	ids := make(chan string, 2)
	for range 2 {
		wg.Go(func() {
			got, _, err := b.submit(t, "same-key")
			if err != nil {
				t.Errorf("submit: %v", err)
			}
			ids <- got.ID
		})
	}
	wg.Wait()
	if a, c := <-ids, <-ids; a != c {
		t.Fatalf("two submits of one key made %s and %s", a, c)
	}
}
