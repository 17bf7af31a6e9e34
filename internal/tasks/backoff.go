package tasks

import (
	"time"

	"github.com/genericcorp/baton/pkg/backoff"
)

// Backoff is the retry delay after a failed attempt: capped exponential
// (Base × 2^(attempt-1), at most Max) with equal jitter (a random point in
// its upper half), so retries of many tasks spread out but never come back
// at once. Its Delay(attempt) is 1-based.
type Backoff = backoff.Policy

// DefaultBackoff: 1 s, 2 s, 4 s … capped at 5 minutes.
var DefaultBackoff = Backoff{Base: time.Second, Max: 5 * time.Minute, Jitter: backoff.Equal}
