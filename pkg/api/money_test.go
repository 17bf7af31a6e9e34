package api

import (
	"math"
	"testing"
)

func TestParseUSD(t *testing.T) {
	good := map[string]int64{
		"0":                    0,
		"5":                    5_000_000,
		"49.99":                49_990_000,
		"0.000012":             12,
		"0.00002":              20,
		"0.0001":               100,
		".5":                   500_000,
		"007.000001":           7_000_001,
		" 1.5 ":                1_500_000,
		"0.0000120":            12, // zeros past the sixth place lose nothing
		"9223372036854.775807": math.MaxInt64,
		"2000":                 2_000_000_000,
	}
	for in, want := range good {
		got, err := ParseUSD(in)
		if err != nil || got != want {
			t.Errorf("ParseUSD(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := []string{
		"", " ", ".", "5.", "1e3", "1E3", "-1", "+1", "abc", "1,5", "1.2.3", "0x10",
		"0.0000001", "0.1234567", "1 000", "NaN", "Inf", "9223372036854.775808", "99999999999999999999",
		"١", // a non-ASCII digit
	}
	for _, in := range bad {
		if got, err := ParseUSD(in); err == nil {
			t.Errorf("ParseUSD(%q) = %d, want an error", in, got)
		}
	}
}

func TestFormatUSD(t *testing.T) {
	for micros, want := range map[int64]string{
		0: "0", 12: "0.000012", 20: "0.00002", 5_000_000: "5", 49_990_000: "49.99",
		-1_500_000: "-1.5", math.MinInt64: "-9223372036854.775808",
	} {
		if got := FormatUSD(micros); got != want {
			t.Errorf("FormatUSD(%d) = %q, want %q", micros, got, want)
		}
	}
	for _, m := range []int64{0, 1, 999_999, 1_000_000, 123_456_789, math.MaxInt64} {
		if got, err := ParseUSD(FormatUSD(m)); err != nil || got != m {
			t.Errorf("ParseUSD(FormatUSD(%d)) = %d, %v", m, got, err)
		}
	}
}

func TestRoundUSD(t *testing.T) {
	for _, c := range []struct {
		micros   int64
		decimals int
		want     string
	}{
		{49_000_000, 2, "49.00"}, {12_345_000, 2, "12.35"}, {12_344_999, 2, "12.34"}, {4_999, 2, "0.00"},
		{5_000, 2, "0.01"}, {-5_000, 2, "-0.01"}, {-4_999, 2, "0.00"}, {3_100, 4, "0.0031"},
		{12_345_678, 4, "12.3457"}, {12, 6, "0.000012"}, {1_500_000, 0, "2"}, {0, 4, "0.0000"},
		{math.MinInt64, 2, "-9223372036854.78"}, {math.MaxInt64, 6, "9223372036854.775807"},
	} {
		if got := RoundUSD(c.micros, c.decimals); got != c.want {
			t.Errorf("RoundUSD(%d, %d) = %q, want %q", c.micros, c.decimals, got, c.want)
		}
	}
}
