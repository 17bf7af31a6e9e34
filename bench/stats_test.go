package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var xs []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		xs = append(xs, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(1..100 ms, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	if xs[0] != 100*time.Millisecond {
		t.Error("percentile sorted its input")
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile(nil) != 0")
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("one sample: %v", got)
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median odd = %v", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median even = %v", got)
	}
	if median(nil) != 0 {
		t.Error("median(nil) != 0")
	}
	if got := medianDuration([]time.Duration{time.Second, 3 * time.Second, 2 * time.Second}); got != 2*time.Second {
		t.Errorf("medianDuration = %v", got)
	}
	if !math.IsNaN(ratio(1, 0)) || ratio(1, 4) != 0.25 {
		t.Error("ratio")
	}
}

func TestTableAndFormats(t *testing.T) {
	tb := table{header: []string{"a", "b"}}
	tb.add("1", "x|y")
	want := "| a | b |\n| --- | --- |\n| 1 | x\\|y |\n"
	if got := tb.String(); got != want {
		t.Errorf("table:\n%q\nwant\n%q", got, want)
	}
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1 000", 1234567.4: "1 234 567", -4321: "-4 321"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
	if got := ms(1500 * time.Microsecond); got != "1.50 ms" {
		t.Errorf("ms = %q", got)
	}
	if got := ms(31800 * time.Microsecond); got != "31.8 ms" {
		t.Errorf("ms = %q", got)
	}
	if x(math.NaN()) != "–" || x(0.5) != "0.50×" {
		t.Error("x")
	}
}

func TestUpsertSection(t *testing.T) {
	doc := upsertSection("", "auth", "A1")
	doc = upsertSection(doc, "cli", "C1")
	doc = upsertSection(doc, "auth", "A2\n")
	if strings.Count(doc, "<!-- bench:auth -->") != 1 || !strings.Contains(doc, "A2") || strings.Contains(doc, "A1") {
		t.Fatalf("auth section not replaced:\n%s", doc)
	}
	if !strings.Contains(doc, "<!-- bench:cli -->\nC1\n<!-- /bench:cli -->") {
		t.Fatalf("cli section lost:\n%s", doc)
	}
	if strings.Index(doc, "bench:auth") > strings.Index(doc, "bench:cli") {
		t.Fatal("replacing a section moved it")
	}
	head := "# Title\n"
	if got := upsertSection(head, "x", "X"); !strings.HasPrefix(got, "# Title\n\n<!-- bench:x -->") {
		t.Fatalf("append after text: %q", got)
	}
}
