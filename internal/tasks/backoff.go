package tasks

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry delay after a failed attempt: capped exponential
// (Base × 2^(attempt-1), at most Max) with full jitter over its upper half,
// so retries of many tasks spread out but never come back at once.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
	// Rand returns a float in [0,1); math/rand when nil (tests fix it).
	Rand func() float64
}

// DefaultBackoff: 1 s, 2 s, 4 s … capped at 5 minutes.
var DefaultBackoff = Backoff{Base: time.Second, Max: 5 * time.Minute}

// Delay returns the wait before retrying after attempt (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	r := rand.Float64
	if b.Rand != nil {
		r = b.Rand
	}
	return d/2 + time.Duration(r()*float64(d/2))
}
