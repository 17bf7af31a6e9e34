package main

import (
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// A limit added to api.Limits and left at 0 in the bench tier refuses
// everything it guards (max_open_streams 0 once made every claim long poll a
// 429, and the throughput scenario spun until CI's timeout).
func TestBenchTierLimitsNothing(t *testing.T) {
	unlimitedAtZero := map[string]bool{api.LimitRequestsPerMinute: true, api.LimitBurst: true, api.LimitEventRetentionDays: true}
	for _, k := range api.LimitKeys() {
		v, _ := benchLimits.Get(k)
		if v <= 0 && !unlimitedAtZero[k] {
			t.Errorf("bench tier %s = %d: a limit of 0 allows nothing", k, v)
		}
	}
}
