package tasks

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/genericcorp/baton/internal/notify"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// fakeStore hands out queued task ids and records reaps; the Store methods
// it lacks panic (nil embedded interface), so a test notices any other use.
type fakeStore struct {
	Store
	mu      sync.Mutex
	queued  []string
	claims  int
	reaped  []store.Task
	running int // what ClaimTasks tells p.Slots the workspace runs
}

// WakeDue wakes nothing: the fake keeps no waiting tasks.
func (f *fakeStore) WakeDue(context.Context, time.Time) ([]store.Task, error) { return nil, nil }

func (f *fakeStore) ClaimTasks(ctx context.Context, p store.ClaimParams) ([]store.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims++
	if p.Slots != nil && p.Slots(store.Workspace{ID: "ws", Status: api.WorkspaceActive}, f.running, store.Consumed{}) <= 0 {
		return nil, store.ErrNotFound
	}
	var out []store.Task
	for len(f.queued) > 0 && len(out) < max(p.Max, 1) {
		out = append(out, store.Task{ID: f.queued[0], WorkspaceID: "ws", Queue: "default", Status: api.TaskRunning, Attempt: 1})
		f.queued = f.queued[1:]
	}
	if len(out) == 0 {
		return nil, store.ErrNotFound
	}
	return out, nil
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

func (f *fakeStore) claimCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.claims
}

func newFakeService(fs *fakeStore, hub *notify.Hub) *Service {
	return New(Config{Store: fs, Notifier: hub, Poll: time.Hour, Limits: func(store.Workspace) api.Limits {
		return api.Limits{MaxConcurrentTasks: 2, MonthlyTaskExecutions: 1000, MonthlyExecutionSeconds: 3600, MonthlySpendMicros: 5_000_000}
	}})
}

func TestClaimReturnsAtOnceWhenTasksWait(t *testing.T) {
	fs := &fakeStore{queued: []string{"a", "b", "c"}}
	s := newFakeService(fs, notify.New())
	got, err := s.Claim(context.Background(), store.AnyWorkspace, []string{"default"}, "w", 2, time.Hour)
	if err != nil || len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Fatalf("Claim = %+v, %v", got, err)
	}
	if fs.claimCalls() != 1 {
		t.Errorf("a claim of 2 made %d store calls, want 1", fs.claimCalls())
	}
}

// TestClaimWakesOnlyForItsQueue: a waiting claim sleeps through changes
// to other queues and workspaces and wakes for its own (synctest: time
// stands still, so neither the poll nor the deadline can wake it).
func TestClaimWakesOnlyForItsQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{}
		hub := notify.New()
		s := newFakeService(fs, hub)
		done := make(chan []store.Task, 1)
		go func() {
			got, _ := s.Claim(context.Background(), "ws", []string{"default", "gpu"}, "w", 1, time.Hour)
			done <- got
		}()
		synctest.Wait() // the claimer tried once and waits
		if fs.claimCalls() != 1 {
			t.Fatalf("claim calls before any wake-up = %d, want 1", fs.claimCalls())
		}
		hub.Notify(context.Background(), QueueTopic("other", "default"), QueueTopic("ws", "cpu"), TaskTopic("t1"), WorkspaceTopic("ws"))
		synctest.Wait()
		if n := fs.claimCalls(); n != 1 {
			t.Fatalf("changes to other queues woke the claimer (%d store calls)", n)
		}
		fs.add("late")
		hub.Notify(context.Background(), QueueTopic("ws", "gpu"))
		synctest.Wait()
		select {
		case got := <-done:
			if len(got) != 1 || got[0].ID != "late" {
				t.Fatalf("claim after its queue's wake-up = %+v", got)
			}
		default:
			t.Fatal("the claimer was not woken by its own queue")
		}
		if n := hub.Waiting(QueueTopic("ws", "default")); n != 0 {
			t.Errorf("a finished claim is still subscribed (%d)", n)
		}
	})
}

func TestClaimGivesUpAfterWaitOrCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newFakeService(&fakeStore{}, notify.New())
		start := time.Now()
		got, err := s.Claim(context.Background(), "ws", []string{"q"}, "w", 1, 30*time.Second)
		if err != nil || len(got) != 0 {
			t.Fatalf("after wait: %+v %v", got, err)
		}
		if waited := time.Since(start); waited != 30*time.Second {
			t.Errorf("claim gave up after %v, want its wait of 30s", waited)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, err = s.Claim(ctx, "ws", []string{"q"}, "w", 1, time.Hour)
		if err != nil || len(got) != 0 {
			t.Fatalf("after cancel: %+v %v", got, err)
		}
	})
}

func TestReapWakesFollowersAndClaimers(t *testing.T) {
	hub := notify.New()
	fs := &fakeStore{reaped: []store.Task{{ID: "t1", WorkspaceID: "ws", Queue: "default", Status: api.TaskQueued}}}
	s := newFakeService(fs, hub)
	var expired []string
	s.cfg.Hooks.Expired = func(t store.Task) { expired = append(expired, t.ID) }
	task, cancelTask := hub.Subscribe(TaskTopic("t1"))
	defer cancelTask()
	shared, cancelShared := hub.Subscribe(QueueTopic(store.AnyWorkspace, "default"))
	defer cancelShared()
	n, err := s.Reap(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v", n, err)
	}
	for name, ch := range map[string]<-chan struct{}{"task follower": task, "shared claimer": shared} {
		select {
		case <-ch:
		default:
			t.Errorf("reap did not wake the %s", name)
		}
	}
	if len(expired) != 1 {
		t.Errorf("Expired hook saw %v, want t1", expired)
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
	cases := map[int64]time.Duration{0: 300 * time.Second, 60: time.Minute, 600: 300 * time.Second,
		9223372037: 300 * time.Second} // would wrap to a negative Duration unsaturated
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
	if got := EffectiveTimeout(store.Task{TimeoutSeconds: 9223372037}, unlimited); got <= 0 {
		t.Errorf("a huge own timeout under an unlimited tier = %v, want a positive (saturated) limit", got)
	}
	if got := EffectiveTimeout(store.Task{}, unlimited); got != 0 {
		t.Errorf("no limit at all = %v, want 0 (none)", got)
	}
	if got := EffectiveTimeout(store.Task{}, api.Limits{MaxTaskDurationSeconds: 1 << 62}); got <= 0 {
		t.Errorf("a huge tier max = %v, want positive", got)
	}
}

// TestClaimWaitsForASlotOnlyWhenCapped: an attempt that ends frees a slot
// (SlotTopic), which wakes only the claimers whose last try found their
// workspace at its cap; a claimer that found its queue empty sleeps
// through it, and wakes for a task in its queue (synctest: neither the
// poll nor the deadline can wake anyone).
func TestClaimWaitsForASlotOnlyWhenCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{}
		hub := notify.New()
		s := newFakeService(fs, hub)
		claim := func() <-chan []store.Task {
			done := make(chan []store.Task, 1)
			go func() {
				got, _ := s.Claim(context.Background(), "ws", []string{"default"}, "w", 1, time.Hour)
				done <- got
			}()
			return done
		}
		ended := store.Task{ID: "t0", WorkspaceID: "ws", Queue: "default", Status: api.TaskSucceeded}

		idle := claim()
		synctest.Wait()
		s.changed(context.Background(), ended)
		synctest.Wait()
		if n := fs.claimCalls(); n != 1 {
			t.Fatalf("a completion woke a claimer of an empty queue (%d store calls, want 1)", n)
		}
		if n := hub.Waiting(SlotTopic("ws")); n != 0 {
			t.Errorf("a claimer that was not capped waits for a slot (%d)", n)
		}
		fs.add("a")
		s.changed(context.Background(), store.Task{ID: "a", WorkspaceID: "ws", Queue: "default", Status: api.TaskQueued})
		synctest.Wait()
		if got := <-idle; len(got) != 1 || got[0].ID != "a" {
			t.Fatalf("claim after a submit = %+v", got)
		}

		fs.mu.Lock()
		fs.running = 2 // the cap (newFakeService: 2)
		fs.queued = append(fs.queued, "b")
		fs.mu.Unlock()
		capped := claim()
		synctest.Wait()
		calls := fs.claimCalls()
		if n := hub.Waiting(SlotTopic("ws")); n != 1 {
			t.Fatalf("a capped claimer does not wait for a slot (%d waiting)", n)
		}
		fs.mu.Lock()
		fs.running = 1
		fs.mu.Unlock()
		s.changed(context.Background(), ended)
		synctest.Wait()
		select {
		case got := <-capped:
			if len(got) != 1 || got[0].ID != "b" {
				t.Fatalf("claim after a slot freed = %+v", got)
			}
		default:
			t.Fatalf("a freed slot did not wake the capped claimer (%d store calls, %d before)", fs.claimCalls(), calls)
		}
		if n := hub.Waiting(SlotTopic("ws")); n != 0 {
			t.Errorf("a finished claim still waits for a slot (%d)", n)
		}
	})
}

// TestClaimAfterADrainingClaimWaitsWithoutTheStore: once a claim of a
// queue found fewer tasks than it asked for, a long-polling claim of the
// same queue waits without a store call until a task of the queue is
// announced or a poll has passed since — a worker's claim for its other
// free slots, right after the claim that emptied the queue, costs no
// transaction. A claim that asks not to wait always asks the store.
func TestClaimAfterADrainingClaimWaitsWithoutTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &fakeStore{queued: []string{"a"}}
		hub := notify.New()
		s := newFakeService(fs, hub)
		ctx := context.Background()
		// Two slots asked, both free (the cap is 2): one task found.
		got, err := s.Claim(ctx, "ws", []string{"default"}, "w", 2, time.Hour)
		if err != nil || len(got) != 1 {
			t.Fatalf("first claim = %+v, %v", got, err)
		}
		start := time.Now()
		done := make(chan []store.Task, 1)
		go func() {
			got, _ := s.Claim(ctx, "ws", []string{"default"}, "w", 1, 2*time.Hour)
			done <- got
		}()
		synctest.Wait()
		if n := fs.claimCalls(); n != 1 {
			t.Fatalf("the claim after a draining one asked the store (%d calls, want 1)", n)
		}
		if got, _ := s.Claim(ctx, "ws", []string{"default"}, "w", 1, 0); len(got) != 0 || fs.claimCalls() != 2 {
			t.Fatalf("a claim without a wait = %+v after %d store calls, want none after 2", got, fs.claimCalls())
		}
		// The poll (newFakeService: an hour) ends the mark: the waiting
		// claim asks the store again then, and finds nothing.
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := fs.claimCalls(); n != 3 {
			t.Fatalf("store calls a poll after the draining claim = %d, want 3", n)
		}
		if waited := time.Since(start); waited != time.Hour {
			t.Errorf("the store was asked again after %v, want the poll (1h)", waited)
		}
		fs.add("b")
		hub.Notify(ctx, QueueTopic("ws", "default"))
		synctest.Wait()
		select {
		case got := <-done:
			if len(got) != 1 || got[0].ID != "b" {
				t.Fatalf("claim after its queue's wake-up = %+v", got)
			}
		default:
			t.Fatal("the waiting claim was not woken by a task of its queue")
		}
	})
}
