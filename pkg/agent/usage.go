package agent

import (
	"strconv"
	"strings"

	"github.com/genericcorp/baton/pkg/api"
)

// UsagePrefix starts a usage report on an agent's stderr, charged to the
// step that is open (the supervisor reads them; so does `baton step run`
// from its command's stderr):
//
//	::baton usage tokens=1200 cost_usd=0.0031
const UsagePrefix = "::baton usage"

// IsUsageLine reports whether line is meant as a usage report.
func IsUsageLine(line string) bool {
	rest, ok := strings.CutPrefix(line, UsagePrefix)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// ParseUsageLine reads a usage line: tokens (a whole number) and cost_usd (a
// decimal number of dollars, converted to micro-dollars without floating
// point; digits past the sixth decimal round up), each optional but not
// both, each at most once, nothing else.
func ParseUsageLine(line string) (api.UsageReport, bool) {
	var u api.UsageReport
	if !IsUsageLine(line) {
		return u, false
	}
	fields := strings.Fields(line[len(UsagePrefix):])
	if len(fields) == 0 || len(fields) > 2 {
		return u, false
	}
	seen := map[string]bool{}
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		if seen[k] {
			return u, false
		}
		seen[k] = true
		switch k {
		case "tokens":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || !digits(v) {
				return u, false
			}
			u.Tokens = n
		case "cost_usd":
			m, ok := parseMicros(v)
			if !ok {
				return u, false
			}
			u.CostMicros = m
		default:
			return u, false
		}
	}
	return u, true
}

// parseMicros converts a decimal dollar amount ("0.0031", "12", ".5") to
// micro-dollars exactly; digits past the sixth decimal round up. At most 12
// digits of dollars, after rounding too: 999999999999.9999999 would round
// up to a 13-digit amount that no usage line can carry (found by
// FuzzParseUsage: the total it read did not read back).
func parseMicros(v string) (int64, bool) {
	whole, frac, dot := strings.Cut(v, ".")
	if (whole == "" && !dot) || (whole != "" && !digits(whole)) || (dot && !digits(frac)) || len(whole) > 12 {
		return 0, false
	}
	var m int64
	for _, c := range whole {
		m = m*10 + int64(c-'0')
	}
	for i := range 6 {
		m *= 10
		if i < len(frac) {
			m += int64(frac[i] - '0')
		}
	}
	if len(frac) > 6 && strings.Trim(frac[6:], "0") != "" {
		m++
	}
	return m, m < maxUsageMicros
}

// maxUsageMicros is 10^18: an amount of 13 digits of dollars.
const maxUsageMicros = 1_000_000_000_000_000_000

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
