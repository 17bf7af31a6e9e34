package tui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// gaugeLabel names a quota metric in the view and in lines.
var gaugeLabel = map[string]string{
	api.QuotaTaskExecutions:   "executions",
	api.QuotaExecutionSeconds: "execution time",
	api.QuotaSpend:            "spend",
	api.QuotaAPIRate:          "api rate",
	api.QuotaConcurrency:      "concurrency",
	api.QuotaQueued:           "queued",
}

// lineLabel names a quota metric in `usage watch` lines (no spaces).
var lineLabel = map[string]string{
	api.QuotaTaskExecutions:   "executions",
	api.QuotaExecutionSeconds: "exec-time",
	api.QuotaSpend:            "spend",
	api.QuotaAPIRate:          "api-rate",
	api.QuotaConcurrency:      "running",
	api.QuotaQueued:           "queued",
}

// cumulative metrics grow over the period; the sparkline shows their rate.
// The others are levels (now), shown as they are.
func cumulative(name string) bool {
	switch name {
	case api.QuotaTaskExecutions, api.QuotaExecutionSeconds, api.QuotaSpend:
		return true
	}
	return false
}

// thousands formats n with thousands separators: 12345 → "12,345".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// dollars formats micro-dollars with cents: 1234567 → "$1.23".
func dollars(micros int64) string {
	cents := (micros + 5_000) / 10_000
	if micros < 0 {
		cents = (micros - 5_000) / 10_000
	}
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s$%s.%02d", sign, thousands(cents/100), cents%100)
}

// seconds formats a number of seconds short: "45s", "12m05s", "3h07m".
func seconds(s int64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
}

// value formats a metric's amount in its unit.
func value(name string, n int64) string {
	switch name {
	case api.QuotaExecutionSeconds:
		return seconds(n)
	case api.QuotaSpend:
		return dollars(n)
	}
	return thousands(n)
}

// usedOfLimit is "used / limit" of a gauge.
func usedOfLimit(q api.QuotaMetric) string {
	if q.Unlimited {
		return value(q.Name, q.Used) + " / unlimited"
	}
	return value(q.Name, q.Used) + " / " + value(q.Name, q.Limit)
}

// percent formats a gauge's percent: "81.2%".
func percent(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

// overflow is the mark of a gauge past its limit: "▲+12%" ("" at or below).
func overflow(p float64) string {
	if p <= critPercent {
		return ""
	}
	return fmt.Sprintf("▲+%.0f%%", math.Max(1, math.Round(p-critPercent)))
}

// until formats the time to a reset: "2d 01h 59m", "3h 05m", "4m 10s".
func until(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s >= 86400:
		return fmt.Sprintf("%dd %02dh %02dm", s/86400, (s%86400)/3600, (s%3600)/60)
	case s >= 3600:
		return fmt.Sprintf("%dh %02dm", s/3600, (s%3600)/60)
	}
	return fmt.Sprintf("%dm %02ds", s/60, s%60)
}

// taskDuration formats how long a task ran (to now while it runs).
func taskDuration(t api.Task, now time.Time) string {
	if t.StartedAt == nil {
		if t.CreatedAt.IsZero() {
			return "-"
		}
		// Not started: how long it has waited.
		return taskDuration(api.Task{StartedAt: &t.CreatedAt}, now)
	}
	end := now
	if t.FinishedAt != nil {
		end = *t.FinishedAt
	}
	d := end.Sub(*t.StartedAt)
	if d < 0 {
		d = 0
	}
	if d < time.Minute {
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
	return seconds(int64(d / time.Second))
}

// taskCost formats a task's cost with four decimals (tasks cost fractions
// of a cent): "$0.0031".
func taskCost(micros int64) string { return "$" + api.RoundUSD(micros, 4) }

// sortWorkspaces orders quotas by their highest percent, then by name.
func sortWorkspaces(qs []api.Quota) []api.Quota {
	out := slices.Clone(qs)
	slices.SortStableFunc(out, func(a, b api.Quota) int {
		if c := cmp.Compare(b.MaxPercent(), a.MaxPercent()); c != 0 {
			return c
		}
		return cmp.Compare(a.WorkspaceName+a.WorkspaceID, b.WorkspaceName+b.WorkspaceID)
	})
	return out
}

// sparkBlocks are the eight heights of a sparkline column.
var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// series computes the sparkline of metric name over history: n columns
// covering the window that ends at end (at least the newest sample). A
// cumulative metric's column is its rate per minute: each delta between
// successive snapshots is spread evenly over the time between them. A
// level's column is its value at the column's end (the last sample before
// it). Columns before the first sample are NaN (no data). It returns the
// columns and the newest column's value.
func series(history []sample, name string, window time.Duration, n int, end time.Time) ([]float64, float64) {
	cols := make([]float64, n)
	for i := range cols {
		cols[i] = math.NaN()
	}
	if len(history) == 0 || n <= 0 {
		return cols, 0
	}
	if last := history[len(history)-1].at; last.After(end) {
		end = last
	}
	start := end.Add(-window)
	width := window / time.Duration(n)
	colStart := func(i int) time.Time { return start.Add(time.Duration(i) * width) }
	first := history[0].at
	for i := range cols {
		if colStart(i + 1).After(first) {
			cols[i] = 0
		}
	}
	if !cumulative(name) {
		j := 0
		for i := range cols {
			if math.IsNaN(cols[i]) {
				continue
			}
			for j+1 < len(history) && !history[j+1].at.After(colStart(i+1)) {
				j++
			}
			cols[i] = float64(history[j].vals[name])
		}
		return cols, cols[n-1]
	}
	perMinute := float64(time.Minute) / float64(width)
	for j := 1; j < len(history); j++ {
		from, to := history[j-1].at, history[j].at
		d := history[j].vals[name] - history[j-1].vals[name]
		if d <= 0 || !to.After(from) {
			continue // no change, or a reset
		}
		span := float64(to.Sub(from))
		for i := range cols {
			lo, hi := colStart(i), colStart(i+1)
			if from.After(lo) {
				lo = from
			}
			if to.Before(hi) {
				hi = to
			}
			if hi.After(lo) {
				cols[i] += float64(d) * float64(hi.Sub(lo)) / span * perMinute
			}
		}
	}
	return cols, cols[n-1]
}

// sparkline draws cols with the eight block heights, scaled to the highest
// column; a column without data is a space.
func sparkline(cols []float64) string {
	hi := 0.0
	for _, v := range cols {
		if !math.IsNaN(v) && v > hi {
			hi = v
		}
	}
	var b strings.Builder
	for _, v := range cols {
		switch {
		case math.IsNaN(v):
			b.WriteByte(' ')
		case hi == 0 || v <= 0:
			b.WriteRune(sparkBlocks[0])
		default:
			i := int(math.Ceil(v/hi*float64(len(sparkBlocks)))) - 1
			b.WriteRune(sparkBlocks[clamp(i, len(sparkBlocks))])
		}
	}
	return b.String()
}

// rateText formats the newest sparkline value in the metric's unit.
func rateText(name string, v float64) string {
	if math.IsNaN(v) {
		return "- (one snapshot so far)"
	}
	switch name {
	case api.QuotaTaskExecutions:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/min"
	case api.QuotaExecutionSeconds:
		return strconv.FormatFloat(v, 'f', 0, 64) + "s/min"
	case api.QuotaSpend:
		return "$" + strconv.FormatFloat(v/1e6, 'f', 4, 64) + "/min"
	case api.QuotaAPIRate:
		return strconv.FormatFloat(v, 'f', 0, 64) + "/min"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}
