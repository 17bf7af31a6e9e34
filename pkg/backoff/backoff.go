// Package backoff is baton's one retry delay: capped exponential growth
// with jitter. The task engine (retries of failed attempts), the worker
// (claims and calls that fail), the alert webhooks, the API client and the
// PostgreSQL LISTEN reconnect all take their waits from a Policy.
//
// It is a few lines rather than a library such as cenkalti/backoff because
// every caller asks one stateless question — how long after the n-th
// failure — with its own injected randomness in tests, which a stateful
// ticker would make harder.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter says where in [0, ceiling] a delay falls.
type Jitter int

const (
	// Equal is a random point in the upper half [ceiling/2, ceiling]:
	// retries spread out but never come back at once.
	Equal Jitter = iota
	// Full is a random point in [0, ceiling].
	Full
	// None is the ceiling itself.
	None
)

// Policy is a capped exponential backoff: Base × 2^(attempt-1), at most
// Max, jittered.
type Policy struct {
	Base   time.Duration
	Max    time.Duration
	Jitter Jitter
	// Rand returns a float in [0,1); math/rand/v2 when nil (tests fix it).
	Rand func() float64
}

// Ceiling is the undithered delay after failure number attempt (1-based;
// below 1 counts as 1): Base doubled attempt-1 times, at most Max.
func (p Policy) Ceiling(attempt int) time.Duration {
	d := p.Base
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Delay is the wait after failure number attempt (1-based).
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Ceiling(attempt)
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	switch p.Jitter {
	case Full:
		return time.Duration(r() * float64(d))
	case None:
		return d
	default:
		return d/2 + time.Duration(r()*float64(d/2))
	}
}
