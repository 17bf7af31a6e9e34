package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var (
	million = big.NewRat(MicrosPerUSD, 1)
	maxInt  = new(big.Rat).SetInt64(math.MaxInt64)
	// decimalUSD is what ParseUSD documents it accepts, before the range
	// and the seventh decimal place.
	decimalUSD = regexp.MustCompile(`^([0-9]+|[0-9]*\.[0-9]+)$`)
)

// FuzzParseUSD: ParseUSD is exact (the micro-dollars are the decimal's
// value, never a float), complete (every plain decimal of whole
// micro-dollars up to MaxInt64 is accepted), never negative, and
// FormatUSD gives back a canonical spelling that parses to the same value.
func FuzzParseUSD(f *testing.F) {
	for _, s := range []string{"0", "5", "49.99", "0.000012", ".5", "007.000001", " 1.5 ", "0.0000120", "9223372036854.775807",
		"9223372036854.775808", "-1", "+1", "1e3", "5.", ".", "", "0.0000001", "1..2", "١٢", "\u00a05\u00a0", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseUSD(s)
		t2 := strings.TrimSpace(s)
		want, exact := new(big.Rat), false
		if decimalUSD.MatchString(t2) {
			if _, ok := want.SetString(t2); ok {
				want.Mul(want, million)
				exact = want.IsInt() && want.Cmp(maxInt) <= 0
			}
		}
		if err != nil {
			if exact {
				t.Fatalf("ParseUSD(%q) refused a plain amount of %s micro-dollars: %v", s, want.RatString(), err)
			}
			return
		}
		if !exact || want.Num().Int64() != m || m < 0 {
			t.Fatalf("ParseUSD(%q) = %d; the amount is %s micro-dollars (exact %v)", s, m, want.RatString(), exact)
		}
		formatted := FormatUSD(m)
		if back, err := ParseUSD(formatted); err != nil || back != m {
			t.Fatalf("ParseUSD(FormatUSD(%d) = %q) = %d, %v", m, formatted, back, err)
		}
		if whole, frac, _ := strings.Cut(formatted, "."); (len(whole) > 1 && whole[0] == '0') || strings.HasSuffix(frac, "0") {
			t.Fatalf("FormatUSD(%d) = %q is not canonical", m, formatted)
		}
	})
}

// FuzzFormatUSD: for every int64, FormatUSD round-trips through ParseUSD
// (negative amounts are refused, and spelled as their magnitude with a
// minus), and RoundUSD rounds half away from zero exactly like big.Rat.
func FuzzFormatUSD(f *testing.F) {
	for _, m := range []int64{0, 1, 5, 12, 49_990_000, 12_345_000, 3100, -5000, -1, math.MaxInt64, math.MinInt64, 500_000, 4_999_999} {
		f.Add(m, 2)
	}
	f.Add(int64(15), 5)
	f.Add(int64(-15), 5)
	f.Add(int64(7), -3)
	f.Add(int64(7), 99)
	f.Fuzz(func(t *testing.T, m int64, decimals int) {
		s := FormatUSD(m)
		back, err := ParseUSD(s)
		switch {
		case m >= 0 && (err != nil || back != m):
			t.Fatalf("ParseUSD(FormatUSD(%d) = %q) = %d, %v", m, s, back, err)
		case m < 0 && err == nil:
			t.Fatalf("ParseUSD accepted FormatUSD(%d) = %q", m, s)
		case m < 0 && m != math.MinInt64 && s != "-"+FormatUSD(-m):
			t.Fatalf("FormatUSD(%d) = %q, want -%s", m, s, FormatUSD(-m))
		}
		d := min(max(decimals, 0), 6)
		want := new(big.Rat).SetFrac(big.NewInt(m), big.NewInt(MicrosPerUSD)).FloatString(d)
		if strings.Trim(want, "-0.") == "" {
			want = strings.TrimPrefix(want, "-") // zero has no sign
		}
		if got := RoundUSD(m, decimals); got != want {
			t.Fatalf("RoundUSD(%d, %d) = %q, want %q", m, decimals, got, want)
		}
	})
}

// FuzzParseDuration: an accepted duration is never negative, a day count
// is whole days within 100 years, the Go spellings agree with
// time.ParseDuration, and d.String() parses back to d.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "24h", "30m", "12h30m", " 1d ", "0", "0d", "-1d", "-5m", "36500d", "36501d", "106752d", "1.5d", "d",
		"9223372036854775807ns", "9223372036854775808ns", "2562047h47m16.854775807s", "1e3s", "+5d", "5µs", "5us", "１d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		trimmed := strings.TrimSpace(s)
		if err != nil {
			if gd, gerr := time.ParseDuration(trimmed); gerr == nil && gd >= 0 {
				t.Fatalf("ParseDuration(%q) refused what time.ParseDuration reads as %v: %v", s, gd, err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		if strings.HasSuffix(trimmed, "d") {
			if d%(24*time.Hour) != 0 || d > 36500*24*time.Hour {
				t.Fatalf("ParseDuration(%q) = %v: not whole days within 100 years", s, d)
			}
		} else if gd, _ := time.ParseDuration(trimmed); gd != d {
			t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration says %v", s, d, gd)
		}
		if back, err := ParseDuration(d.String()); err != nil || back != d {
			t.Fatalf("ParseDuration(%v.String()) = %v, %v", d, back, err)
		}
	})
}

// jsonDepth is the nesting depth of valid JSON as encoding/json's decoder
// walks it.
func jsonDepth(raw []byte) int {
	dec := json.NewDecoder(bytes.NewReader(raw))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) || err != nil {
			return deepest
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
				deepest = max(deepest, depth)
			} else {
				depth--
			}
		}
	}
}

// FuzzCheckJSON: CheckJSON accepts exactly the valid UTF-8 JSON values
// nested at most MaxJSONDepth deep, and JSONDepth (which counts without
// parsing) agrees with a real decoder on every valid document.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `1`, `"x"`, `{"a":[1,{"b":"]]]\"["}]}`, `{"a":"\u0000"}`, "\"\xff\"", `[[[[`, `]]]]`, `{"a":1}{}`,
		strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth), strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1),
		`"\\"`, `"\\\"["`, ` null `, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		err := CheckJSON(raw)
		valid := json.Valid(raw)
		if valid {
			if got, want := JSONDepth(raw), jsonDepth(raw); got != want {
				t.Fatalf("JSONDepth(%q) = %d, a decoder says %d", raw, got, want)
			}
		}
		wantOK := valid && utf8.Valid(raw) && jsonDepth(raw) <= MaxJSONDepth
		if (err == nil) != wantOK {
			t.Fatalf("CheckJSON(%q) = %v; valid JSON %v, depth %d", raw, err, valid, JSONDepth(raw))
		}
		if err != nil && !errors.Is(err, ErrInvalidUTF8) && !errors.Is(err, ErrJSONTooDeep) && !errors.Is(err, ErrInvalidJSON) {
			t.Fatalf("CheckJSON(%q) = %v, not one of its documented errors", raw, err)
		}
	})
}
