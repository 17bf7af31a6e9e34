// Package ratelimit decides whether a request may proceed, with the generic
// cell rate algorithm (GCRA): a limit of Rate events per Period with a Burst
// that may be spent at once. Each key keeps one number, its theoretical
// arrival time (TAT); a request is allowed when the TAT, moved on by the
// request's cost, is at most Burst emission intervals in the future.
//
// Two backends implement Limiter: Memory (one process) and Redis (shared
// by every replica, one atomic Lua script per decision, Redis's clock).
// Fallback wraps Redis and answers from Memory while Redis is unreachable.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Limit is Rate events per Period, of which Burst may happen at once.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerMinute returns a limit of rate events a minute with the given burst.
func PerMinute(rate, burst int) Limit {
	return Limit{Rate: rate, Period: time.Minute, Burst: burst}
}

// IsZero reports whether l is the zero Limit (callers use it for "not set").
func (l Limit) IsZero() bool { return l == Limit{} }

// String returns e.g. "600 per minute, burst 100".
func (l Limit) String() string {
	per := "per " + l.Period.String()
	switch l.Period {
	case time.Second:
		per = "per second"
	case time.Minute:
		per = "per minute"
	case time.Hour:
		per = "per hour"
	}
	return fmt.Sprintf("%d %s, burst %d", l.Rate, per, l.Burst)
}

// Interval is the emission interval: the time one event's cost takes to
// drain, Period / Rate.
func (l Limit) Interval() time.Duration {
	if l.Rate <= 0 {
		return 0
	}
	return l.Period / time.Duration(l.Rate)
}

// ErrInvalidLimit is returned (wrapped) by Allow for a limit with a rate,
// period or burst below 1, an interval under 1ns, a burst or cost whose span
// overflows, or a negative cost.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// Validate returns a wrapped ErrInvalidLimit when Allow would refuse l.
func (l Limit) Validate() error { return l.check(1) }

// check validates l and the cost n, including that Burst and n intervals
// fit in an int64 of nanoseconds with room to spare.
func (l Limit) check(n int) error {
	if l.Rate < 1 || l.Period <= 0 || l.Burst < 1 || n < 0 || l.Interval() <= 0 ||
		int64(max(l.Burst, n)) > math.MaxInt64/4/int64(l.Interval()) {
		return fmt.Errorf("%w: %s, cost %d", ErrInvalidLimit, l, n)
	}
	return nil
}

// Result is one decision.
type Result struct {
	// Limit is the limit the decision was made under.
	Limit Limit
	// Allowed reports whether the n events were admitted (and counted).
	Allowed bool
	// Remaining is how many more events would be admitted right now.
	Remaining int
	// RetryAfter is how long until the refused events would be admitted;
	// 0 when Allowed. For a peek (n = 0) it is how long until one event
	// would be admitted, 0 when Remaining ≥ 1.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to its full burst.
	ResetAfter time.Duration
}

// Limiter decides rate limits. Implementations are safe for concurrent use.
type Limiter interface {
	// Allow admits n events for key under l, or refuses them all; a refusal
	// counts nothing. n = 0 is a peek: it counts nothing, is always Allowed,
	// and reports Remaining and, when Remaining < 1, RetryAfter.
	//
	// Errors: a wrapped ErrInvalidLimit for an invalid l or n; the backend's
	// error (Redis unreachable, ctx done) otherwise.
	Allow(ctx context.Context, key string, l Limit, n int) (Result, error)
}

// decide is GCRA on nanosecond timestamps: tat is the key's stored TAT
// (0 or any time ≤ now for an idle key). It returns the TAT to store and the
// decision. The Redis script computes the same in seconds.
func decide(now, tat int64, l Limit, n int) (int64, Result) {
	interval := int64(l.Interval())
	burstOffset := interval * int64(l.Burst)
	tat = max(tat, now)
	newTAT := tat + interval*int64(n)
	diff := now - (newTAT - burstOffset)
	if diff < 0 {
		return tat, Result{Limit: l, RetryAfter: time.Duration(-diff), ResetAfter: time.Duration(tat - now)}
	}
	r := Result{Limit: l, Allowed: true, Remaining: int(diff / interval), ResetAfter: time.Duration(newTAT - now)}
	return newTAT, peekRetry(r, n)
}

// peekRetry fills in RetryAfter of a peek (n = 0) that has no whole event
// left: the time until the TAT is (Burst-1) intervals away.
func peekRetry(r Result, n int) Result {
	if n == 0 && r.Remaining < 1 {
		r.RetryAfter = max(r.ResetAfter-time.Duration(r.Limit.Burst-1)*r.Limit.Interval(), 0)
	}
	return r
}
