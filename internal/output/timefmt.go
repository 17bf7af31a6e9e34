package output

import (
	"fmt"
	"time"
)

// TimeFormatter formats times for the tabular forms: relative to now on a
// terminal ("3 minutes ago", "in 2 days"), RFC 3339 UTC when piped and in
// CSV. A zero or nil time is "-" on a terminal and "" otherwise.
type TimeFormatter interface {
	Time(t time.Time) string
	TimePtr(t *time.Time) string
}

// timeFormatter implements TimeFormatter; human selects the relative form.
type timeFormatter struct {
	human bool
	now   func() time.Time
}

func (f timeFormatter) Time(t time.Time) string {
	switch {
	case t.IsZero() && f.human:
		return "-"
	case t.IsZero():
		return ""
	case f.human:
		return relative(f.now(), t)
	}
	return t.UTC().Format(time.RFC3339)
}

func (f timeFormatter) TimePtr(t *time.Time) string {
	if t == nil {
		return f.Time(time.Time{})
	}
	return f.Time(*t)
}

// relative describes t as seen at now: "just now", "5 minutes ago",
// "in 2 days", "1 year ago" and so on, rounding down; months are 30 days
// and years 365.
func relative(now, t time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	if d < time.Minute {
		if future {
			return "in less than a minute"
		}
		return "just now"
	}
	const day = 24 * time.Hour
	var n int64
	var unit string
	switch {
	case d < time.Hour:
		n, unit = int64(d/time.Minute), "minute"
	case d < day:
		n, unit = int64(d/time.Hour), "hour"
	case d < 30*day:
		n, unit = int64(d/day), "day"
	case d < 365*day:
		n, unit = int64(d/(30*day)), "month"
	default:
		n, unit = int64(d/(365*day)), "year"
	}
	if n != 1 {
		unit += "s"
	}
	if future {
		return fmt.Sprintf("in %d %s", n, unit)
	}
	return fmt.Sprintf("%d %s ago", n, unit)
}
