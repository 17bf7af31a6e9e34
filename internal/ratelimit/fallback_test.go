package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/genericcorp/baton/internal/testutil"
)

// countIn counts substr in what logs holds.
func countIn(logs *testutil.SyncBuffer, substr string) int {
	return strings.Count(logs.String(), substr)
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestFallbackWhenRedisIsDown points the Redis limiter at a closed port:
// decisions still limit, from memory, and the outage is logged once and
// counted.
func TestFallbackWhenRedisIsDown(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1})
	defer rdb.Close()
	clk := newFakeClock()
	var logs testutil.SyncBuffer
	reg := prometheus.NewRegistry()
	f, err := NewFallback(NewRedis(rdb, ""), NewMemory(MemoryOptions{Now: clk.Now}), FallbackOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registerer: reg, Now: clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	lim := PerMinute(60, 20)
	for i := range 20 {
		if r := allow(t, f, "ws", lim, 1); !r.Allowed {
			t.Fatalf("request %d refused: %+v", i, r)
		}
	}
	if r := allow(t, f, "ws", lim, 1); r.Allowed || r.RetryAfter != time.Second {
		t.Fatalf("past the burst during an outage: %+v", r)
	}
	clk.Advance(3 * DefaultProbeInterval) // the next decision probes Redis again, and fails
	allow(t, f, "ws", lim, 1)
	if !f.Degraded() {
		t.Error("not degraded")
	}
	if n := counterValue(t, reg, "baton_ratelimit_fallback_total"); n != 22 {
		t.Errorf("baton_ratelimit_fallback_total = %v, want 22", n)
	}
	if n := countIn(&logs, "Redis failed"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, logs.String())
	}
}

// flaky is a primary limiter that fails while down is set.
type flaky struct {
	down  atomic.Bool
	calls atomic.Int64
	inner Limiter
}

func (f *flaky) Allow(ctx context.Context, key string, l Limit, n int) (Result, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return Result{}, errors.New("dial tcp: connection refused")
	}
	return f.inner.Allow(ctx, key, l, n)
}

func TestFallbackProbesAndRecovers(t *testing.T) {
	clk := newFakeClock()
	primary := &flaky{inner: NewMemory(MemoryOptions{Now: clk.Now})}
	var logs testutil.SyncBuffer
	f, err := NewFallback(primary, NewMemory(MemoryOptions{Now: clk.Now}), FallbackOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: clk.Now, ProbeInterval: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	lim := PerMinute(600, 100)
	primary.down.Store(true)
	for range 50 {
		allow(t, f, "k", lim, 1)
	}
	if n := primary.calls.Load(); n != 1 {
		t.Fatalf("the failing primary was called %d times within one probe interval, want 1", n)
	}
	primary.down.Store(false)
	allow(t, f, "k", lim, 1) // still within the probe interval: local
	if !f.Degraded() || primary.calls.Load() != 1 {
		t.Fatalf("degraded %v, primary calls %d", f.Degraded(), primary.calls.Load())
	}
	clk.Advance(time.Second)
	if r := allow(t, f, "k", lim, 1); !r.Allowed || r.Remaining != 99 {
		t.Fatalf("first answer of the recovered primary: %+v", r) // the primary's own state
	}
	if f.Degraded() || countIn(&logs, "level=INFO") != 1 || countIn(&logs, "Redis failed") != 1 {
		t.Fatalf("degraded %v; logs:\n%s", f.Degraded(), logs.String())
	}
}

func TestFallbackPassesCancellationThrough(t *testing.T) {
	primary := &flaky{}
	primary.down.Store(true)
	f, err := NewFallback(primary, NewMemory(MemoryOptions{}), FallbackOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Allow(ctx, "k", PerMinute(1, 1), 1); err == nil {
		t.Fatal("no error for a cancelled request")
	}
	if f.Degraded() {
		t.Error("a cancelled request counted as an outage")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewFallback(primary, NewMemory(MemoryOptions{}), FallbackOptions{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFallback(primary, NewMemory(MemoryOptions{}), FallbackOptions{Registerer: reg}); err == nil {
		t.Error("registering the counter twice succeeded")
	}
}
