package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/genericcorp/baton/internal/testutil"
)

// testRedis returns a client of BATON_TEST_REDIS_URL and a key prefix of
// its own whose keys are deleted when the test ends; it skips the test when
// the variable is unset.
func testRedis(tb testing.TB) (*redis.Client, string) {
	tb.Helper()
	opt, prefix := testutil.Redis(tb)
	opt.PoolSize = 64
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { rdb.Close() })
	// Open the pool's connections now, so that hammering does not wait
	// for dials.
	var wg sync.WaitGroup
	errs := make(chan error, opt.PoolSize)
	for range opt.PoolSize {
		wg.Go(func() { errs <- rdb.Ping(context.Background()).Err() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			tb.Fatalf("Redis at BATON_TEST_REDIS_URL: %v", err)
		}
	}
	return rdb, prefix
}

func TestRedisBurstRefusalAndPeek(t *testing.T) {
	rdb, prefix := testRedis(t)
	r := NewRedis(rdb, prefix)
	lim := PerMinute(6, 5) // one every 10s: nothing refills during the test
	for i := range 5 {
		res := allow(t, r, "ws", lim, 1)
		if !res.Allowed || res.Remaining != 4-i || res.RetryAfter != 0 {
			t.Fatalf("request %d: %+v", i, res)
		}
	}
	res := allow(t, r, "ws", lim, 1)
	if res.Allowed || res.Remaining != 0 || res.RetryAfter <= 9*time.Second || res.RetryAfter > 10*time.Second ||
		res.ResetAfter <= 49*time.Second || res.ResetAfter > 50*time.Second || res.Limit != lim {
		t.Fatalf("over the burst: %+v", res)
	}
	peek := allow(t, r, "ws", lim, 0)
	if !peek.Allowed || peek.Remaining != 0 || peek.RetryAfter <= 9*time.Second || peek.RetryAfter > 10*time.Second {
		t.Fatalf("peek: %+v", peek)
	}
	if res := allow(t, r, "other", lim, 0); res.Remaining != 5 || res.RetryAfter != 0 {
		t.Fatalf("peek of another key: %+v", res)
	}
	if ttl := rdb.TTL(context.Background(), "rate:"+prefix+"ws").Val(); ttl <= 0 || ttl > 51*time.Second {
		t.Fatalf("TTL of the key = %v, want it to expire when the TAT passes", ttl)
	}
	if _, err := r.Allow(context.Background(), "ws", PerMinute(0, 5), 1); err == nil {
		t.Fatal("invalid limit accepted")
	}
}

// TestRedisAccuracyUnderContention hammers one key from 200 goroutines for
// a few seconds of real time; Redis's clock decides.
func TestRedisAccuracyUnderContention(t *testing.T) {
	rdb, prefix := testRedis(t)
	r := NewRedis(rdb, prefix)
	lim := PerMinute(600, 100)
	ctx := context.Background()
	allowed, calls, first := hammerReal(t, func() (bool, error) {
		res, err := r.Allow(ctx, "ws:hot", lim, 1)
		return res.Allowed, err
	}, 200, 3*time.Second)
	// A closing peek says what is left unspent: on a loaded machine the
	// goroutines may not have kept the bucket empty to the very end.
	left := allow(t, r, "ws:hot", lim, 0)
	elapsed := time.Since(first)
	want := float64(lim.Burst) + float64(lim.Rate)*elapsed.Seconds()/lim.Period.Seconds()
	got := allowed + int64(left.Remaining)
	t.Logf("200 goroutines, %d calls over %s: %d allowed + %d left unspent; burst + rate × elapsed = %.1f",
		calls, elapsed.Round(time.Millisecond), allowed, left.Remaining, want)
	if !within(float64(got), want, 2) {
		t.Fatalf("allowed %d + %d unspent, want %.1f ± 2%%", allowed, left.Remaining, want)
	}
	for i := range lim.Burst {
		if res := allow(t, r, "ws:other", lim, 1); !res.Allowed {
			t.Fatalf("other workspace refused at request %d: %+v", i, res)
		}
	}
}

// hammerReal calls try from workers goroutines, released together, until
// span has passed. It returns how many
// calls were allowed, how many were made, and when the first call began.
// Each goroutine stops at the deadline or after a bounded number of calls.
func hammerReal(t *testing.T, try func() (bool, error), workers int, span time.Duration) (allowed, calls int64, first time.Time) {
	t.Helper()
	const maxCallsPerWorker = 1_000_000
	var n, ok atomic.Int64
	var ready, done sync.WaitGroup
	release := make(chan time.Time)
	errs := make(chan error, workers)
	for range workers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			start := <-release
			for i := 0; i < maxCallsPerWorker && time.Since(start) < span; i++ {
				allowed, err := try()
				if err != nil {
					errs <- err
					return
				}
				n.Add(1)
				if allowed {
					ok.Add(1)
				}
			}
		}()
	}
	ready.Wait()
	first = time.Now()
	for range workers {
		release <- first
	}
	done.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return ok.Load(), n.Load(), first
}
