package main

import (
	"strings"
	"testing"
	"time"
)

func TestStepWindow(t *testing.T) {
	as := []stepAttempt{
		{StartNS: 1_000, EndNS: 5_000, Steps: make([]int64, 3)},
		{StartNS: 500, EndNS: 4_000, Steps: make([]int64, 2)},
		{StartNS: 2_000, EndNS: 9_500, Steps: make([]int64, 5)},
	}
	steps, window := stepWindow(as)
	if steps != 10 || window != 9_000*time.Nanosecond {
		t.Fatalf("stepWindow = %d steps over %v, want 10 over 9µs (500 ns to 9 500 ns)", steps, window)
	}
	if steps, window := stepWindow(nil); steps != 0 || window != 0 {
		t.Fatalf("no attempts: %d, %v", steps, window)
	}
}

func TestParseLoadavg(t *testing.T) {
	if v, ok := parseLoadavg("7.42 6.10 5.00 3/812 12345\n"); !ok || v != 7.42 {
		t.Fatalf("parseLoadavg = %v %v", v, ok)
	}
	for _, bad := range []string{"", "x 1 2"} {
		if _, ok := parseLoadavg(bad); ok {
			t.Errorf("parseLoadavg(%q) ok", bad)
		}
	}
}

func TestRateRangeAndPlural(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want string
	}{{nil, "–"}, {[]float64{120.4}, "120/s"}, {[]float64{300, 100, 200}, "200/s (100–300)"}, {[]float64{1500, 1000}, "1 250/s (1 000–1 500)"}} {
		if got := rateRange(c.xs); got != c.want {
			t.Errorf("rateRange(%v) = %q, want %q", c.xs, got, c.want)
		}
	}
	if plural(1, "run") != "1 run" || plural(3, "run") != "3 runs" {
		t.Error("plural")
	}
}

// The section pools the runs' round trips and takes the median of their
// rates, one row pair per store.
func TestRenderSteps(t *testing.T) {
	o := opts{runs: 2, args: "-runs=2"}
	durs := func(xs ...int) []time.Duration {
		var out []time.Duration
		for _, x := range xs {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	res := []stepsResult{{store: "sqlite", load: [2]float64{1.5, 2.5}, runs: []stepRun{
		{newRT: durs(1, 2, 3), replayRT: durs(1), newRate: 100, replayRate: 400},
		{newRT: durs(4, 5, 6), replayRT: durs(2), newRate: 300, replayRate: 600},
	}}}
	r := &report{}
	got := renderSteps(o, res, r)
	for _, want := range []string{
		"## Durable steps (`go run . -runs=2 steps`)",
		"the samples of 2 runs pooled",
		"| sqlite round trip p50 / p99 | 3.00 ms / 6.00 ms | 1.00 ms / 2.00 ms |",
		"| sqlite steps/s, 8 agents | 200/s (100–300) | 500/s (400–600) |",
		"sqlite 1.5 → 2.5",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("section lacks %q:\n%s", want, got)
		}
	}
	if len(r.headline) != 1 || !strings.HasPrefix(r.headline[0], "sqlite steps: new p50/p99 3.00 ms/6.00 ms") {
		t.Errorf("headline %q", r.headline)
	}
}
