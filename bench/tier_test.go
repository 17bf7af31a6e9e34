package main

import (
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// A limit added to api.Limits and left at 0 in a bench tier refuses
// everything it guards (max_open_streams 0 once made every claim long poll a
// 429, and the throughput scenario spun until CI's timeout).
func TestBenchTiersLeaveNoLimitAtZero(t *testing.T) {
	// requests_per_minute 0 is unlimited (burst then unused), and
	// event_retention_days 0 keeps events.
	zeroOK := map[string]bool{api.LimitRequestsPerMinute: true, api.LimitBurst: true, api.LimitEventRetentionDays: true}
	for name, l := range map[string]api.Limits{benchTier: benchLimits, mixedTier: mixedLimits} {
		for _, k := range api.LimitKeys() {
			if v, _ := l.Get(k); v <= 0 && !zeroOK[k] {
				t.Errorf("%s tier %s = %d: a limit of 0 allows nothing", name, k, v)
			}
		}
	}
}
