package tasks

import (
	"math"
	"testing"
	"time"
)

func TestUSD(t *testing.T) {
	for micros, want := range map[int64]string{
		0: "0.0000", 49: "0.0000", 50: "0.0001", 3_100: "0.0031", 3_149: "0.0031", 3_150: "0.0032",
		12_345_678: "12.3457", 200_000_000: "200.0000", -3_150: "-0.0032", -49: "0.0000",
		math.MaxInt64: "9223372036854.7758", math.MinInt64: "-9223372036854.7758",
	} {
		if got := usd(micros); got != want {
			t.Errorf("usd(%d) = %q, want %q", micros, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 0: "0s", 350 * time.Millisecond: "350ms", 4240 * time.Millisecond: "4.2s",
		10 * time.Second: "10s", 5*time.Minute + 3*time.Second: "5m3s", 10 * time.Minute: "10m",
		2*time.Hour + 10*time.Minute + 29*time.Second: "2h10m", 49 * time.Hour: "49h", 2*time.Hour + 20*time.Second: "2h", 90 * time.Minute: "1h30m",
	} {
		got := duration(d)
		if got != want {
			t.Errorf("duration(%s) = %q, want %q", d, got, want)
		}
		if _, err := time.ParseDuration(got); err != nil {
			t.Errorf("duration(%s) = %q does not parse: %v", d, got, err)
		}
	}
}
