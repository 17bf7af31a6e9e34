package api

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MicrosPerUSD is the number of micro-dollars in a dollar.
const MicrosPerUSD = 1_000_000

// ParseUSD parses a non-negative decimal amount of US dollars, as written in
// config files and on the command line ("5", "49.99", "0.000012", ".5"),
// into integer micro-dollars, exactly: the digits are never a float.
// Decimal places beyond the sixth must be zeros.
//
// It returns an error for an empty string, a sign ("-1", "+1"), an exponent
// ("1e3"), anything that is not digits with at most one '.', a nonzero
// seventh or later decimal place, and amounts above math.MaxInt64 micros.
func ParseUSD(s string) (int64, error) {
	t := strings.TrimSpace(s)
	whole, frac, dot := strings.Cut(t, ".")
	if (whole == "" && frac == "") || (dot && frac == "") || !isDigits(whole) || !isDigits(frac) {
		return 0, fmt.Errorf("invalid amount %q: want a decimal number of dollars such as 5 or 0.000012", s)
	}
	if len(frac) > 6 {
		if strings.TrimRight(frac[6:], "0") != "" {
			return 0, fmt.Errorf("invalid amount %q: more than 6 decimal places (the unit is a micro-dollar)", s)
		}
		frac = frac[:6]
	}
	frac += strings.Repeat("0", 6-len(frac))
	micros, _ := strconv.ParseInt(frac, 10, 64) // six digits: cannot fail
	whole = strings.TrimLeft(whole, "0")
	if whole == "" {
		return micros, nil
	}
	dollars, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || dollars > (math.MaxInt64-micros)/MicrosPerUSD {
		return 0, fmt.Errorf("invalid amount %q: too large", s)
	}
	return dollars*MicrosPerUSD + micros, nil
}

// isDigits reports whether s consists of ASCII digits only ("" does).
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FormatUSD formats micro-dollars as a decimal amount of dollars without
// trailing zeros: 5000000 → "5", 12 → "0.000012", 49990000 → "49.99".
// ParseUSD(FormatUSD(m)) == m for every m ≥ 0.
func FormatUSD(micros int64) string {
	sign := ""
	u := uint64(micros)
	if micros < 0 {
		sign, u = "-", uint64(-(micros+1))+1 // no overflow at MinInt64
	}
	whole, frac := u/MicrosPerUSD, u%MicrosPerUSD
	if frac == 0 {
		return sign + strconv.FormatUint(whole, 10)
	}
	f := strings.TrimRight(fmt.Sprintf("%06d", frac), "0")
	return sign + strconv.FormatUint(whole, 10) + "." + f
}

// RoundUSD formats micro-dollars as dollars with exactly decimals places
// (0 to 6), rounding half a unit away from zero, in integer arithmetic:
// RoundUSD(12345000, 2) = "12.35", RoundUSD(3100, 4) = "0.0031",
// RoundUSD(-5000, 2) = "-0.01". Zero after rounding has no sign.
func RoundUSD(micros int64, decimals int) string {
	decimals = min(max(decimals, 0), 6)
	u := uint64(micros)
	if micros < 0 {
		u = uint64(-(micros + 1)) + 1 // no overflow at MinInt64
	}
	step := uint64(1)
	for range 6 - decimals {
		step *= 10
	}
	units := u / step
	if u%step >= (step+1)/2 && step > 1 {
		units++
	}
	scale := uint64(MicrosPerUSD) / step
	s := strconv.FormatUint(units/scale, 10)
	if decimals > 0 {
		frac := strconv.FormatUint(units%scale, 10)
		s += "." + strings.Repeat("0", decimals-len(frac)) + frac
	}
	if micros < 0 && units != 0 {
		s = "-" + s
	}
	return s
}

// Micros is an amount of money in integer micro-dollars, the unit baton
// stores and sends (fields named *_micros): never a float.
type Micros int64

// String formats m as dollars without trailing zeros (see FormatUSD).
func (m Micros) String() string { return FormatUSD(int64(m)) }

// Round formats m as dollars with exactly decimals places (see RoundUSD).
func (m Micros) Round(decimals int) string { return RoundUSD(int64(m), decimals) }
