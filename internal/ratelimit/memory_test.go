package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
)

// newFakeClock is a settable clock, safe for concurrent use.
func newFakeClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
}

func allow(t *testing.T, l Limiter, key string, lim Limit, n int) Result {
	t.Helper()
	r, err := l.Allow(context.Background(), key, lim, n)
	if err != nil {
		t.Fatalf("Allow(%s): %v", key, err)
	}
	return r
}

func TestMemoryBurstThenRate(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clk.Now})
	lim := PerMinute(600, 100) // one every 100ms
	for i := range 100 {
		r := allow(t, m, "ws", lim, 1)
		if !r.Allowed || r.Remaining != 99-i || r.RetryAfter != 0 || r.ResetAfter != time.Duration(i+1)*100*time.Millisecond {
			t.Fatalf("request %d: %+v", i, r)
		}
	}
	r := allow(t, m, "ws", lim, 1)
	if r.Allowed || r.Remaining != 0 || r.RetryAfter != 100*time.Millisecond || r.ResetAfter != 10*time.Second || r.Limit != lim {
		t.Fatalf("over the burst: %+v", r)
	}
	clk.Advance(99 * time.Millisecond)
	if r := allow(t, m, "ws", lim, 1); r.Allowed || r.RetryAfter != time.Millisecond {
		t.Fatalf("1ms early: %+v", r)
	}
	clk.Advance(time.Millisecond)
	if r := allow(t, m, "ws", lim, 1); !r.Allowed || r.Remaining != 0 {
		t.Fatalf("on time: %+v", r)
	}
	clk.Advance(10 * time.Second)
	if r := allow(t, m, "ws", lim, 5); !r.Allowed || r.Remaining != 95 {
		t.Fatalf("after a full reset, cost 5: %+v", r)
	}
	if r := allow(t, m, "ws", lim, 96); r.Allowed || r.RetryAfter != 100*time.Millisecond {
		t.Fatalf("cost over what remains: %+v", r)
	}
}

func TestMemoryPeek(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clk.Now})
	lim := PerMinute(30, 3) // one every 2s
	if r := allow(t, m, "a", lim, 0); !r.Allowed || r.Remaining != 3 || r.RetryAfter != 0 {
		t.Fatalf("peek of a new key: %+v", r)
	}
	if m.Len() != 0 {
		t.Fatalf("a peek stored %d keys", m.Len())
	}
	for range 3 {
		allow(t, m, "a", lim, 1)
	}
	r := allow(t, m, "a", lim, 0)
	if !r.Allowed || r.Remaining != 0 || r.RetryAfter != 2*time.Second {
		t.Fatalf("peek of an exhausted key: %+v", r)
	}
	if r2 := allow(t, m, "a", lim, 0); r2 != r {
		t.Fatalf("a peek counted: %+v then %+v", r, r2)
	}
	clk.Advance(500 * time.Millisecond)
	if r := allow(t, m, "a", lim, 0); r.Remaining != 0 || r.RetryAfter != 1500*time.Millisecond {
		t.Fatalf("peek 0.5s later: %+v", r)
	}
	clk.Advance(1500 * time.Millisecond)
	if r := allow(t, m, "a", lim, 0); r.Remaining != 1 || r.RetryAfter != 0 {
		t.Fatalf("peek 2s later: %+v", r)
	}
}

func TestInvalidLimit(t *testing.T) {
	m := NewMemory(MemoryOptions{})
	for _, c := range []struct {
		l Limit
		n int
	}{{PerMinute(0, 1), 1}, {PerMinute(1, 0), 1}, {Limit{Rate: 1, Burst: 1}, 1}, {PerMinute(1, 1), -1}, {Limit{Rate: 10, Period: 5, Burst: 1}, 1}} {
		if _, err := m.Allow(context.Background(), "k", c.l, c.n); !errors.Is(err, ErrInvalidLimit) {
			t.Errorf("Allow(%v, %d) = %v, want ErrInvalidLimit", c.l, c.n, err)
		}
	}
}

// hammer runs workers goroutines in lock-step over steps of the fake clock:
// in each step every worker asks perStep times, then the clock moves on.
// It returns how many were allowed.
func hammer(t *testing.T, l Limiter, clk *testutil.Clock, key string, lim Limit, workers, steps, perStep int, step time.Duration) int64 {
	t.Helper()
	var allowed atomic.Int64
	release := make([]chan struct{}, steps)
	for i := range release {
		release[i] = make(chan struct{})
	}
	var stepDone, exited sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		exited.Add(1)
		go func() {
			defer exited.Done()
			for s := range steps {
				<-release[s]
				for range perStep {
					r, err := l.Allow(context.Background(), key, lim, 1)
					if err != nil {
						errs <- err
						break
					}
					if r.Allowed {
						allowed.Add(1)
					}
				}
				stepDone.Done()
			}
		}()
	}
	for s := range steps {
		stepDone.Add(workers)
		close(release[s])
		stepDone.Wait()
		clk.Advance(step)
	}
	exited.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return allowed.Load()
}

func within(got, want, pct float64) bool { return math.Abs(got-want) <= want*pct/100 }

func TestMemoryAccuracyUnderContention(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clk.Now})
	lim := PerMinute(600, 100)
	const workers, steps, perStep, step = 200, 120, 2, 500 * time.Millisecond
	got := hammer(t, m, clk, "ws:hot", lim, workers, steps, perStep, step)
	// The last requests come (steps-1) steps after the first.
	elapsed := time.Duration(steps-1) * step
	want := float64(lim.Burst) + float64(lim.Rate)*elapsed.Seconds()/lim.Period.Seconds()
	t.Logf("%d goroutines, %d requests over %s simulated: %d allowed, burst + rate × elapsed = %.1f",
		workers, workers*steps*perStep, elapsed, got, want)
	if !within(float64(got), want, 2) {
		t.Fatalf("allowed %d, want %.1f ± 2%%", got, want)
	}
	// Another workspace has its whole burst, and no more.
	for i := range lim.Burst {
		if r := allow(t, m, "ws:other", lim, 1); !r.Allowed {
			t.Fatalf("other workspace refused at request %d: %+v", i, r)
		}
	}
	if r := allow(t, m, "ws:other", lim, 1); r.Allowed {
		t.Fatalf("other workspace allowed past its burst: %+v", r)
	}
}

func TestMemoryDropsIdleKeys(t *testing.T) {
	clk := newFakeClock()
	m := NewMemory(MemoryOptions{Now: clk.Now, MaxEntries: numShards * 4})
	lim := PerMinute(60, 5)
	for i := range 200 {
		allow(t, m, fmt.Sprint("k", i), lim, 1)
	}
	if n := m.Len(); n == 0 || n > numShards*4 {
		t.Fatalf("%d keys held, want 1..%d", n, numShards*4)
	}
	clk.Advance(2 * time.Second) // every TAT has passed: all keys are idle
	for i := range 1000 {
		allow(t, m, fmt.Sprint("fresh", i), lim, 1)
		clk.Advance(time.Millisecond)
	}
	if n := m.Len(); n > numShards*4 {
		t.Fatalf("%d keys held, cap %d", n, numShards*4)
	}
	// A key whose TAT passed answers as new whether or not it was dropped.
	clk.Advance(2 * time.Second)
	if r := allow(t, m, "fresh1", lim, 1); !r.Allowed || r.Remaining != 4 {
		t.Fatalf("idle key: %+v", r)
	}
}

func TestMemoryCapEvictsLiveKeys(t *testing.T) {
	clk := newFakeClock()
	const capacity = numShards * 2
	m := NewMemory(MemoryOptions{Now: clk.Now, MaxEntries: capacity})
	lim := PerMinute(1, 1) // every key stays live for a minute
	for i := range 10 * capacity {
		allow(t, m, fmt.Sprint("k", i), lim, 1)
	}
	if n := m.Len(); n > capacity {
		t.Fatalf("%d keys held, cap %d", n, capacity)
	}
}
