package server

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/testutil"
)

// TestRateLimitAcrossReplicasSharingRedis hammers a workspace (pro: 600 a
// minute, burst 100) over HTTP from 200 goroutines for two seconds, first
// through one replica, then another workspace through two replicas over one
// store, each with its own Redis client on the same Redis: together they
// allow what one replica would, within 2 %.
//
// Each run is held to the GCRA's exact count on Redis's clock, the one the
// limiter decides on (redis_rate's script reads TIME): burst + one grant per
// emission interval from the first decision to a closing peek. That count
// holds only while the bucket never sits full after the first decision (the
// GCRA drops credit above the burst), so the first burst of decisions are
// held until they can be made together: a hammer that trickles in
// (goroutines still dialling, a loaded machine) leaves the bucket full for
// a while and loses grants no limiter owes it. The two seconds run from
// then on.
func TestRateLimitAcrossReplicasSharingRedis(t *testing.T) {
	opt, prefix := testutil.Redis(t)
	b := setup(t)
	const workers, hammerFor = 200, 2 * time.Second
	one := hammerReplicas(t, b, opt, prefix, b.newTenant("solo"), 1, workers, hammerFor)
	two := hammerReplicas(t, b, opt, prefix, b.newTenant("acme"), 2, workers, hammerFor)
	one.check(t)
	two.check(t)
	// The single-replica figure, normalised to the two-replica run's
	// elapsed time: burst + the rate the single replica measured × it.
	e1, e2 := one.elapsed().Seconds(), two.elapsed().Seconds()
	burst := float64(one.limit.Burst)
	single := burst + (float64(one.got())-burst)*e2/e1
	t.Logf("2 replicas: %d allowed + unspent over %.3fs of Redis's clock; single-replica figure %d over %.3fs, normalised %.1f (%+.2f %%)",
		two.got(), e2, one.got(), e1, single, 100*(float64(two.got())-single)/single)
	if math.Abs(float64(two.got())-single) > single*0.02 {
		t.Fatalf("two replicas allowed %d, want the single-replica figure %.1f ± 2%%", two.got(), single)
	}
	if two.allowed[0].Load() == 0 || two.allowed[1].Load() == 0 || two.refused.Load() == 0 {
		t.Fatal("both replicas must allow and refuse")
	}
}

// hammerRun is one run of hammerReplicas; its times are Redis's (TIME).
type hammerRun struct {
	replicas, workers int
	limit             ratelimit.Limit
	allowed           []atomic.Int64 // 200s, per replica
	refused           atomic.Int64   // 429s
	grants            atomic.Int64   // workspace decisions Redis allowed
	failures          atomic.Int64   // workspace decisions that failed (the server fails open)
	// fresh counts the grants made on a full bucket, whose TAT is then
	// now + interval: the first, and any after the bucket refilled to its
	// cap.
	fresh atomic.Int64

	// No workspace decision is made before burst requests wait for one:
	// they are let go together, so that the burst is spent at once, and
	// the hammer runs for its span from then on (deadline, Unix ns).
	// firstLo is Redis's time as they are let go.
	arrivals atomic.Int64
	gate     chan struct{}
	span     time.Duration
	deadline atomic.Int64
	// The first decision ran after firstLo and before firstHi, the
	// earliest TIME after a decision that began before any had ended.
	mu               sync.Mutex
	firstDone        atomic.Bool
	firstLo, firstHi time.Time

	left           int       // unspent at the closing peek
	peek           time.Time // the peek's own time
	peekLo, peekHi time.Time // TIME before and after it
	tat            time.Time // the key's TAT after the peek
}

// running reports whether the hammer goes on: until span after the first
// decisions.
func (r *hammerRun) running() bool {
	d := r.deadline.Load()
	return d == 0 || time.Now().UnixNano() < d
}

// got is what the run allowed, plus what was left unspent at the peek (a
// loaded machine may not keep the bucket empty to the very end).
func (r *hammerRun) got() int64 {
	var n int64
	for i := range r.allowed {
		n += r.allowed[i].Load()
	}
	return n + int64(r.left)
}

// elapsed is the time from the middle of the first decision's bracket to
// the peek.
func (r *hammerRun) elapsed() time.Duration {
	return r.peek.Sub(r.firstLo.Add(r.firstHi.Sub(r.firstLo) / 2))
}

// expected is the GCRA's count for the run: burst + the emission intervals
// that passed between the first decision and the peek, bounded by the first
// decision's bracket. The script works in float seconds since 2017 (about
// 3e8, an ulp of 6e-8 s); 1µs either way covers its rounding and no more.
func (r *hammerRun) expected() (lo, hi int64) {
	iv, eps := r.limit.Interval(), time.Microsecond
	burst := int64(r.limit.Burst)
	return burst + int64((r.peek.Sub(r.firstHi)-eps)/iv), burst + int64((r.peek.Sub(r.firstLo)+eps)/iv)
}

// check logs the run's figures and fails the test unless the run allowed
// exactly what the GCRA allows on Redis's clock.
func (r *hammerRun) check(t *testing.T) {
	t.Helper()
	lo, hi := r.expected()
	var per []string
	var total int64
	for i := range r.allowed {
		per = append(per, strconv.FormatInt(r.allowed[i].Load(), 10))
		total += r.allowed[i].Load()
	}
	// Without credit lost, the TAT is the first decision + grants × interval.
	implied := r.tat.Add(-time.Duration(r.grants.Load()) * r.limit.Interval())
	t.Logf("%d replica(s), %d goroutines: %s allowed (Redis granted %d, %d on a full bucket; %d decisions failed), %d refused, %d left unspent: %d; "+
		"Redis clock: first decision in a bracket %s wide, TAT implies %s into it; peek %s later; GCRA allows %d..%d",
		r.replicas, r.workers, strings.Join(per, " + "), r.grants.Load(), r.fresh.Load(), r.failures.Load(), r.refused.Load(), r.left, r.got(),
		r.firstHi.Sub(r.firstLo).Round(time.Microsecond), implied.Sub(r.firstLo).Round(time.Microsecond), r.elapsed().Round(time.Microsecond), lo, hi)
	if r.failures.Load() != 0 || r.grants.Load() != total {
		t.Fatalf("%d replica(s): %d limiter failures; Redis granted %d, the replicas answered 200 %d times", r.replicas, r.failures.Load(), r.grants.Load(), total)
	}
	if r.fresh.Load() != 1 {
		t.Fatalf("%d replica(s): %d grants on a full bucket: the hammer let it refill to its cap, so burst + rate × elapsed does not hold", r.replicas, r.fresh.Load())
	}
	if r.peek.Before(r.peekLo) || r.peek.After(r.peekHi) {
		t.Fatalf("%d replica(s): the peek's time %s is outside its bracket [%s, %s]", r.replicas, r.peek, r.peekLo, r.peekHi)
	}
	if got := r.got(); got < lo || got > hi {
		t.Fatalf("%d replica(s): %d allowed + %d unspent, want %d..%d (burst + rate × Redis-clock elapsed)", r.replicas, total, r.left, lo, hi)
	}
}

// hammerReplicas starts replicas servers over b's store, each with its own
// Redis client of opt under prefix, and has workers goroutines call
// GET /v1/me as a (spread over the replicas) until hammerFor has passed.
// A closing peek at the workspace's bucket ends the run.
func hammerReplicas(t *testing.T, b *bundle, opt *redis.Options, prefix string, a tenant, replicas, workers int, hammerFor time.Duration) *hammerRun {
	t.Helper()
	run := &hammerRun{replicas: replicas, workers: workers, limit: ratelimit.PerMinute(600, 100),
		allowed: make([]atomic.Int64, replicas), gate: make(chan struct{}), span: hammerFor}
	var urls []string
	for range replicas {
		o := *opt
		o.PoolSize = 128
		rdb := redis.NewClient(&o)
		t.Cleanup(func() { rdb.Close() })
		warm(t, rdb, o.PoolSize)
		srv, err := New(Config{Store: b.store, Secret: b.secret, Tiers: b.srv.cfg.Tiers, DefaultTier: "free", Now: b.clock,
			Logger: slog.New(slog.DiscardHandler), Limiter: &timed{Limiter: ratelimit.NewRedis(rdb, prefix), rdb: rdb, run: run}})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(contract(t.Errorf, srv))
		t.Cleanup(hs.Close)
		urls = append(urls, hs.URL)
	}
	// 200 requests in flight on a loaded machine under -race take seconds
	// each; the timeout only bounds a hung server.
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	do := func(url, key string) (int, error) {
		req, _ := http.NewRequest("GET", url, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		res, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}

	const maxCalls = 100_000
	var ready, done sync.WaitGroup
	release := make(chan struct{})
	errs := make(chan error, workers)
	for w := range workers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			replica := w % replicas
			// Open this goroutine's connection on a route without limits.
			_, err := do(urls[replica]+"/healthz", "")
			ready.Done()
			<-release
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < maxCalls && run.running(); i++ {
				status, err := do(urls[replica]+"/v1/me", a.key)
				switch {
				case err != nil:
					errs <- err
					return
				case status == 200:
					run.allowed[replica].Add(1)
				case status == 429:
					run.refused.Add(1)
				default:
					errs <- &statusError{status}
					return
				}
			}
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// An empty critical section on purpose: it orders the handlers'
	// writes of firstLo and firstHi (under mu) before the reads below,
	// which the race detector cannot see through the network.
	run.mu.Lock()
	//lint:ignore SA2001 a barrier with the handlers, see above
	run.mu.Unlock()

	// The closing peek, bracketed by TIME; its own time is the key's TAT
	// less the ResetAfter it answers (tat - now in the script).
	ctx := context.Background()
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	var err error
	if run.peekLo, err = rdb.Time(ctx).Result(); err != nil {
		t.Fatal(err)
	}
	left, err := ratelimit.NewRedis(rdb, prefix).Allow(ctx, "ws:"+a.ws.ID, run.limit, 0)
	if err != nil {
		t.Fatal(err)
	}
	if run.peekHi, err = rdb.Time(ctx).Result(); err != nil {
		t.Fatal(err)
	}
	run.left = left.Remaining
	if left.Remaining >= run.limit.Burst || left.ResetAfter <= 0 {
		t.Fatalf("%d replica(s): the bucket is full at the peek: %+v", replicas, left)
	}
	tat, err := rdb.Get(ctx, "rate:"+prefix+"ws:"+a.ws.ID).Float64()
	if err != nil {
		t.Fatal(err)
	}
	run.tat = redisEpoch.Add(time.Duration(tat * float64(time.Second)))
	run.peek = run.tat.Add(-left.ResetAfter)
	return run
}

// redisEpoch is the origin of redis_rate's clock: its script counts
// seconds from 2017-01-01, so that a double keeps microseconds.
var redisEpoch = time.Unix(1483228800, 0)

// timed is the limiter of a run's replicas: it holds the workspace
// decisions until burst of them wait, counts them, and brackets
// the first on Redis's clock. The first decision came after the gate
// opened, and before the earliest TIME read after a decision that began
// before any had ended (every decision was no earlier than the first).
type timed struct {
	ratelimit.Limiter
	rdb *redis.Client
	run *hammerRun
}

func (l *timed) Allow(ctx context.Context, key string, lim ratelimit.Limit, n int) (ratelimit.Result, error) {
	if !strings.HasPrefix(key, "ws:") {
		return l.Limiter.Allow(ctx, key, lim, n)
	}
	run := l.run
	if run.arrivals.Add(1) == int64(min(run.workers, lim.Burst)) {
		run.deadline.Store(time.Now().Add(run.span).UnixNano())
		lo, err := l.rdb.Time(ctx).Result()
		if err != nil {
			run.failures.Add(1)
		}
		run.mu.Lock()
		run.firstLo = lo
		run.mu.Unlock()
		close(run.gate)
	}
	select {
	case <-run.gate:
	case <-ctx.Done():
		run.failures.Add(1)
		return ratelimit.Result{}, ctx.Err()
	}
	bracket := !run.firstDone.Load()
	r, err := l.Limiter.Allow(ctx, key, lim, n)
	if err != nil {
		run.failures.Add(1)
		return r, err
	}
	if r.Allowed && n > 0 {
		run.grants.Add(1)
		if r.ResetAfter <= lim.Interval()+time.Microsecond {
			run.fresh.Add(1)
		}
	}
	if bracket {
		hi, err := l.rdb.Time(ctx).Result()
		if err != nil {
			run.failures.Add(1)
			return ratelimit.Result{}, err
		}
		run.mu.Lock()
		if run.firstHi.IsZero() || hi.Before(run.firstHi) {
			run.firstHi = hi
		}
		run.mu.Unlock()
		run.firstDone.Store(true)
	}
	return r, nil
}

// warm opens n connections of rdb, so that the hammer does not wait for
// dials.
func warm(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := rdb.Ping(context.Background()).Err(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

type statusError struct{ status int }

func (e *statusError) Error() string { return "unexpected status " + http.StatusText(e.status) }

// TestRateLimitFallsBackWhenRedisIsDown points the server's limiter at a
// closed port: requests are still limited, by this replica's memory, and
// the fallback counter moves.
func TestRateLimitFallsBackWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	reg := prometheus.NewRegistry()
	var f *ratelimit.Fallback
	b := setupLimited(t, func(b *bundle, cfg *Config) {
		var err error
		f, err = ratelimit.NewFallback(ratelimit.NewRedis(rdb, ""), ratelimit.NewMemory(ratelimit.MemoryOptions{Now: b.clock}),
			ratelimit.FallbackOptions{Logger: slog.New(slog.DiscardHandler), Registerer: reg, Now: b.clock})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Limiter = f
	})
	a := b.newTenant("acme")
	for range 100 {
		b.call("GET", "/v1/me", a.key, nil, 200, nil)
	}
	wantRateLimited(t, b.req("GET", "/v1/me", a.key, ""), "1", "workspace "+a.ws.ID)
	if !f.Degraded() {
		t.Error("the fallback does not know Redis is down")
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetName() != "baton_ratelimit_fallback_total" {
		t.Fatalf("metrics = %v, %v", mfs, err)
	}
	// Per request: the workspace's bucket (an address that never failed is
	// not asked about); plus the operator's.
	if n := mfs[0].GetMetric()[0].GetCounter().GetValue(); n < 102 {
		t.Errorf("baton_ratelimit_fallback_total = %v, want ≥ 102", n)
	}
}
