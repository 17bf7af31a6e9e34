package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultProbeInterval is how often a Fallback in an outage tries its
// primary again.
const DefaultProbeInterval = time.Second

// FallbackOptions configure NewFallback. The zero value is usable.
type FallbackOptions struct {
	// Logger gets one warning when an outage begins and one line when it
	// ends; slog.Default() when nil.
	Logger *slog.Logger
	// Registerer gets the baton_ratelimit_fallback_total counter; nil
	// registers it nowhere.
	Registerer prometheus.Registerer
	// ProbeInterval is how often, during an outage, one request tries the
	// primary again (the others go straight to the local limiter, so an
	// unreachable Redis costs at most one timeout per interval);
	// DefaultProbeInterval when ≤ 0.
	ProbeInterval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Fallback answers from a primary limiter (Redis) and, when the primary
// fails, from a local one (Memory): rate limits fail open to the local
// limit, never to no limit. With N replicas in an outage, a key can get up
// to N times its limit. Every locally answered decision is counted in
// baton_ratelimit_fallback_total.
type Fallback struct {
	primary, local Limiter
	log            *slog.Logger
	now            func() time.Time
	probe          time.Duration
	fallbacks      prometheus.Counter

	down      atomic.Bool
	downSince atomic.Int64 // Unix ns
	nextProbe atomic.Int64 // Unix ns; during an outage the primary is tried from then on
}

// NewFallback returns a Fallback over primary and local. Errors: the
// Registerer's, when the counter cannot be registered (a duplicate).
func NewFallback(primary, local Limiter, o FallbackOptions) (*Fallback, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	f := &Fallback{
		primary: primary, local: local, log: o.Logger, now: o.Now, probe: o.ProbeInterval,
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "baton_ratelimit_fallback_total",
			Help: "Rate-limit decisions answered by this replica's in-memory limiter because Redis failed.",
		}),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(f.fallbacks); err != nil {
			return nil, fmt.Errorf("register baton_ratelimit_fallback_total: %w", err)
		}
	}
	return f, nil
}

// Collector returns the fallback counter, for a registry of the caller's.
func (f *Fallback) Collector() prometheus.Collector { return f.fallbacks }

// Degraded reports whether the primary is failing and the local limiter
// answers.
func (f *Fallback) Degraded() bool { return f.down.Load() }

// Allow implements Limiter. Errors: a wrapped ErrInvalidLimit; the
// primary's error when ctx ended (the caller is gone, which says nothing of
// Redis); the local limiter's error.
func (f *Fallback) Allow(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if f.tryPrimary() {
		r, err := f.primary.Allow(ctx, key, l, n)
		switch {
		case err == nil:
			f.recovered()
			return r, nil
		case errors.Is(err, ErrInvalidLimit), ctx.Err() != nil:
			return Result{}, err
		}
		f.failed(err)
	}
	f.fallbacks.Inc()
	return f.local.Allow(ctx, key, l, n)
}

// tryPrimary reports whether this decision should go to the primary: always
// when it is up; during an outage, for one caller per probe interval.
func (f *Fallback) tryPrimary() bool {
	if !f.down.Load() {
		return true
	}
	now := f.now().UnixNano()
	next := f.nextProbe.Load()
	return now >= next && f.nextProbe.CompareAndSwap(next, now+int64(f.probe))
}

func (f *Fallback) failed(err error) {
	now := f.now()
	f.nextProbe.Store(now.UnixNano() + int64(f.probe))
	if f.down.CompareAndSwap(false, true) {
		f.downSince.Store(now.UnixNano())
		f.log.Warn("rate limits: Redis failed; this replica enforces its own in-memory limits until Redis answers again",
			"err", err, "probe_interval", f.probe)
	}
}

func (f *Fallback) recovered() {
	if f.down.CompareAndSwap(true, false) {
		outage := time.Duration(f.now().UnixNano() - f.downSince.Load())
		f.log.Info("rate limits: Redis answers again; limits are shared across replicas again", "outage", outage.Round(time.Millisecond))
	}
}
