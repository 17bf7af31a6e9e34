package queue

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// fakeStore hands out queued task ids and records reaps.
type fakeStore struct {
	mu     sync.Mutex
	queued []string
	reaped []store.Task
}

func (f *fakeStore) ClaimTask(ctx context.Context, p store.ClaimParams) (store.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queued) == 0 {
		return store.Task{}, store.ErrNotFound
	}
	id := f.queued[0]
	f.queued = f.queued[1:]
	return store.Task{ID: id, Status: api.TaskRunning, Attempt: 1}, nil
}

func (f *fakeStore) ExpireLeases(ctx context.Context, now time.Time, backoff func(int) time.Duration) ([]store.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.reaped
	f.reaped = nil
	return out, nil
}

func (f *fakeStore) add(id string) {
	f.mu.Lock()
	f.queued = append(f.queued, id)
	f.mu.Unlock()
}

func newQueue(fs *fakeStore) *Queue {
	return New(Config{Store: fs, Poll: time.Hour, Limits: func(store.Workspace) api.Limits {
		return api.Limits{MaxConcurrentTasks: 2, MonthlyTaskExecutions: 1000, MonthlyExecutionSeconds: 3600, MonthlySpendMicros: 5_000_000}
	}})
}

func TestClaimReturnsAtOnceWhenTasksWait(t *testing.T) {
	fs := &fakeStore{queued: []string{"a", "b", "c"}}
	q := newQueue(fs)
	got, err := q.Claim(context.Background(), store.AnyWorkspace, []string{"default"}, "w", 2, time.Hour)
	if err != nil || len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Fatalf("Claim = %+v, %v", got, err)
	}
}

func TestClaimWakesOnNotify(t *testing.T) {
	fs := &fakeStore{}
	q := newQueue(fs)
	done := make(chan []store.Task, 1)
	go func() {
		got, _ := q.Claim(context.Background(), "ws", []string{"default"}, "w", 1, time.Hour)
		done <- got
	}()
	// Keep notifying until the claimer has picked the task up: the claimer
	// may not be waiting yet when the first notification goes out.
	fs.add("late")
	deadline := time.After(10 * time.Second)
	for {
		q.Notify(context.Background(), "default")
		select {
		case got := <-done:
			if len(got) != 1 || got[0].ID != "late" {
				t.Fatalf("got %+v", got)
			}
			return
		case <-deadline:
			t.Fatal("claimer was not woken")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestClaimGivesUpAfterWaitOrCancel(t *testing.T) {
	q := newQueue(&fakeStore{})
	got, err := q.Claim(context.Background(), "ws", []string{"q"}, "w", 1, time.Millisecond)
	if err != nil || len(got) != 0 {
		t.Fatalf("after wait: %+v %v", got, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err = q.Claim(ctx, "ws", []string{"q"}, "w", 1, time.Hour)
	if err != nil || len(got) != 0 {
		t.Fatalf("after cancel: %+v %v", got, err)
	}
}

func TestEligible(t *testing.T) {
	q := newQueue(&fakeStore{})
	active := store.Workspace{Status: api.WorkspaceActive}
	none := store.Consumed{}
	if !q.Eligible(active, 1, none) || q.Eligible(active, 2, none) {
		t.Fatal("concurrency cap of 2 not applied")
	}
	if q.Eligible(store.Workspace{Status: api.WorkspaceSuspended}, 0, none) {
		t.Fatal("suspended workspace eligible")
	}
	l := q.cfg.Limits(active)
	for name, used := range map[string]store.Consumed{
		"executions":        {Executions: l.MonthlyTaskExecutions},
		"execution seconds": {ExecutionMS: l.MonthlyExecutionSeconds * 1000},
		"spend":             {CostMicros: l.MonthlySpendMicros},
	} {
		if q.Eligible(active, 0, used) {
			t.Errorf("%s used up: still eligible", name)
		}
	}
	if !q.Eligible(active, 0, store.Consumed{Executions: l.MonthlyTaskExecutions - 1,
		ExecutionMS: l.MonthlyExecutionSeconds*1000 - 1, CostMicros: l.MonthlySpendMicros - 1}) {
		t.Error("just under every quota: not eligible")
	}
}

func TestBackoffIsCappedAndJittered(t *testing.T) {
	lo := Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return 0 }}
	hi := Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return 0.999999 }}
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 10: time.Minute, 100: time.Minute} {
		if got := lo.Delay(attempt); got != want/2 {
			t.Errorf("attempt %d low = %v, want %v", attempt, got, want/2)
		}
		if got := hi.Delay(attempt); got > want || got < want*99/100 {
			t.Errorf("attempt %d high = %v, want ≈%v", attempt, got, want)
		}
	}
}

func TestEffectiveTimeout(t *testing.T) {
	l := api.Limits{MaxTaskDurationSeconds: 300}
	cases := map[int64]time.Duration{0: 300 * time.Second, 60: time.Minute, 600: 300 * time.Second}
	for own, want := range cases {
		if got := EffectiveTimeout(store.Task{TimeoutSeconds: own}, l); got != want {
			t.Errorf("timeout %d: %v, want %v", own, got, want)
		}
	}
	// A tier without a max duration: the task's own timeout, or none.
	unlimited := api.Limits{}
	if got := EffectiveTimeout(store.Task{TimeoutSeconds: 60}, unlimited); got != time.Minute {
		t.Errorf("own timeout under an unlimited tier = %v", got)
	}
	if got := EffectiveTimeout(store.Task{}, unlimited); got != 0 {
		t.Errorf("no limit at all = %v, want 0 (none)", got)
	}
}

func TestReapNotifies(t *testing.T) {
	fs := &fakeStore{reaped: []store.Task{{ID: "t1", Status: api.TaskQueued}}}
	q := newQueue(fs)
	ch := q.Changed()
	n, err := q.Reap(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("reap did not notify")
	}
}
