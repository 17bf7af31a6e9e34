package tiers

import (
	"strconv"
	"strings"

	"github.com/genericcorp/baton/pkg/api"
)

// LimitKeySpendUSD is the CLI's name for the spend limit (CONTRACT.md
// "Limits"): dollars as a decimal, where the API has integer micro-dollars.
const LimitKeySpendUSD = "monthly_spend_usd"

// CLILimitKeys lists the limit keys as the CLI names them (the API's keys,
// with monthly_spend_usd for monthly_spend_micros), in the API's order.
func CLILimitKeys() []string {
	keys := api.LimitKeys()
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = LimitLabel(k)
	}
	return out
}

// LimitLabel is the CLI name of the API limit key: monthly_spend_usd for
// monthly_spend_micros, the key itself otherwise.
func LimitLabel(key string) string {
	if key == api.LimitMonthlySpendMicros {
		return LimitKeySpendUSD
	}
	return key
}

// LimitValue formats the value of the API limit key for a table: money as
// USD with two decimals, the maximum task duration as a human duration
// ("5m", "1h"), everything else as an integer.
func LimitValue(key string, v int64) string {
	switch key {
	case api.LimitMonthlySpendMicros:
		return USD(v)
	case api.LimitMaxTaskDurationSeconds:
		return Seconds(v)
	}
	return strconv.FormatInt(v, 10)
}

// USD formats micro-dollars as dollars with two decimals, rounding half a
// cent away from zero: 49000000 → "49.00", 12345000 → "12.35".
func USD(micros int64) string { return api.RoundUSD(micros, 2) }

// Seconds formats a number of seconds as a short human duration made of
// days, hours, minutes and seconds, leaving out zero parts: 300 → "5m",
// 3600 → "1h", 5400 → "1h30m", 90000 → "1d1h", 0 → "0s".
func Seconds(s int64) string {
	if s == 0 {
		return "0s"
	}
	var b strings.Builder
	if s < 0 {
		b.WriteByte('-')
		s = -s
	}
	for _, u := range []struct {
		n    int64
		unit string
	}{{86_400, "d"}, {3_600, "h"}, {60, "m"}, {1, "s"}} {
		if s >= u.n {
			b.WriteString(strconv.FormatInt(s/u.n, 10) + u.unit)
			s %= u.n
		}
	}
	return b.String()
}
