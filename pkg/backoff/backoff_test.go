package backoff

import (
	"testing"
	"time"
)

func TestCeilingDoublesToMax(t *testing.T) {
	p := Policy{Base: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := p.Ceiling(i); got != w*time.Millisecond {
			t.Errorf("Ceiling(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	if got := p.Ceiling(1 << 30); got != time.Second {
		t.Errorf("Ceiling(huge) = %v, want the max (no overflow)", got)
	}
	if got := (Policy{Base: time.Hour, Max: time.Minute}).Ceiling(1); got != time.Minute {
		t.Errorf("a Base above Max = %v, want Max", got)
	}
}

func TestDelayJitter(t *testing.T) {
	for _, tc := range []struct {
		j        Jitter
		r        float64
		min, max time.Duration
	}{
		{Equal, 0, 400 * time.Millisecond, 400 * time.Millisecond},
		{Equal, 0.999999, 799 * time.Millisecond, 800 * time.Millisecond},
		{Full, 0, 0, 0},
		{Full, 0.5, 400 * time.Millisecond, 400 * time.Millisecond},
		{None, 0.3, 800 * time.Millisecond, 800 * time.Millisecond},
	} {
		p := Policy{Base: 100 * time.Millisecond, Max: time.Second, Jitter: tc.j, Rand: func() float64 { return tc.r }}
		if got := p.Delay(4); got < tc.min || got > tc.max {
			t.Errorf("jitter %d, rand %v: Delay(4) = %v, want in [%v, %v]", tc.j, tc.r, got, tc.min, tc.max)
		}
	}
	// With math/rand: always within the bounds.
	p := Policy{Base: time.Second, Max: time.Minute}
	for range 1000 {
		if d := p.Delay(3); d < 2*time.Second || d > 4*time.Second {
			t.Fatalf("Delay(3) = %v, want in [2s, 4s]", d)
		}
	}
}
