package usage

import (
	"github.com/dustin/go-humanize"
	"strconv"
	"time"

	"github.com/genericcorp/baton/internal/cli/tiers"
	"github.com/genericcorp/baton/pkg/api"
)

// Tabular forms are for people on a terminal (human) and for programs
// otherwise (piped TSV, CSV): on a terminal quantities have human units
// ("1h30m", "12.50", "81.2%"); piped and in CSV they are plain numbers
// (seconds, exact dollars, percent without the sign) that scripts and
// spreadsheets read back.

// SpendLabel is the CLI's name of the spend gauge (spend_micros in the API;
// the CLI shows dollars).
const SpendLabel = "spend_usd"

// QuotaLabel is the name of the quota gauge or usage metric as the CLI's
// tables show it: spend_micros is spend_usd, cost_micros is cost_usd,
// execution_ms is execution; any other name is itself.
func QuotaLabel(name string) string {
	switch name {
	case api.QuotaSpend:
		return SpendLabel
	case api.MetricCostMicros:
		return "cost_usd"
	case api.MetricExecutionMS:
		return "execution"
	}
	return name
}

// Quantity formats v, a value of the quota gauge or usage metric name: money
// (spend_micros, cost_micros) as dollars, time (execution_seconds,
// execution_ms) as a duration, the rest as an integer. human selects the
// terminal form (USD with two decimals, "1h30m") over the plain one (exact
// dollars "12.345678", seconds "5400" or "5400.25").
func Quantity(name string, v int64, human bool) string {
	switch name {
	case api.QuotaSpend, api.MetricCostMicros:
		if human {
			return tiers.USD(v)
		}
		return api.FormatUSD(v)
	case api.QuotaExecutionSeconds:
		if human {
			return tiers.Seconds(v)
		}
		return strconv.FormatInt(v, 10)
	case api.MetricExecutionMS:
		if human {
			return MS(v)
		}
		return strconv.FormatFloat(float64(v)/1000, 'f', -1, 64)
	}
	if human {
		return humanize.Comma(v) // 1,250,000
	}
	return strconv.FormatInt(v, 10)
}

// MS formats milliseconds as a short human duration: "0s", "350ms", then
// whole seconds as tiers.Seconds does ("45s", "1h30m", "2d3h").
func MS(ms int64) string {
	switch {
	case ms <= 0:
		return "0s"
	case ms < 1000:
		return strconv.FormatInt(ms, 10) + "ms"
	}
	return tiers.Seconds((ms + 500) / 1000)
}

// Percent formats a percentage with one decimal: "81.2%" for a person,
// "81.2" for a program. Overshoot stays visible: "125.0%".
func Percent(p float64, human bool) string {
	s := strconv.FormatFloat(p, 'f', 1, 64)
	if human {
		return s + "%"
	}
	return s
}

// USD4 formats micro-dollars as dollars with four decimals, rounding half a
// unit away from zero (usage costs are often fractions of a cent):
// 3100 → "0.0031", 12345678 → "12.3457".
func USD4(micros int64) string { return api.RoundUSD(micros, 4) }

// Approx formats a number of seconds to its two leading units, for times
// to come where seconds do not matter: 200000 → "2d7h", 5430 → "1h30m",
// 95 → "1m35s".
func Approx(s int64) string {
	switch {
	case s >= 86_400:
		s -= s % 3_600
	case s >= 3_600:
		s -= s % 60
	}
	return tiers.Seconds(s)
}

// Dash is what an empty cell shows: "-" for a person, "" for a program.
func Dash(human bool) string {
	if human {
		return "-"
	}
	return ""
}

// ANSI colours for values that need attention on a terminal.
const (
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	reset  = "\x1b[0m"
)

// Red paints s red when on (colour is enabled), else returns it as is.
func Red(on bool, s string) string {
	if !on || s == "" {
		return s
	}
	return red + s + reset
}

// Yellow paints s yellow when on (colour is enabled), else returns it as is.
func Yellow(on bool, s string) string {
	if !on || s == "" {
		return s
	}
	return yellow + s + reset
}

// Gauge colours a percentage of a limit when on: red from 100 %, yellow
// from 80 % (the alert thresholds).
func Gauge(on bool, p float64, s string) string {
	switch {
	case p >= 100:
		return Red(on, s)
	case p >= 80:
		return Yellow(on, s)
	}
	return s
}

// PeriodStart is the start of the billing period (calendar month, UTC)
// that holds t.
func PeriodStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}
