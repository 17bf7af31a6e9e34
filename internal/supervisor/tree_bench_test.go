//go:build linux

package supervisor

import "testing"

// BenchmarkAttemptScan is the cost of one look for an attempt's processes
// (a /proc walk reading every process's stat and environ).
func BenchmarkAttemptScan(b *testing.B) {
	for b.Loop() {
		attemptProcs(readProcs(), 1<<30, "no-such-tag", nil)
	}
}
