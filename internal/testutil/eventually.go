package testutil

import (
	"testing"
	"time"
)

// Eventually checks cond every few milliseconds until it holds, and fails
// the test naming what was awaited if it still does not after d. It is how
// tests wait: never a bare sleep.
func Eventually(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("still waiting after %s: %s", d, what)
		}
		<-tick.C
	}
}
