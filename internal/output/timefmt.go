package output

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Duration is the one duration format of every command, short and read
// back by time.ParseDuration: "350ms", "4.2s", "5m3s", "10m", "2h10m",
// "49h" (seconds are dropped from an hour on); "0s" for none.
func Duration(d time.Duration) string {
	var s string
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		s = d.Round(time.Second).String()
	default:
		s = d.Round(time.Minute).String()
	}
	if strings.HasSuffix(s, "m0s") { // "10m0s" → "10m", "2h0m0s" → "2h0m"
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") { // "2h0m" → "2h"
		s = s[:len(s)-2]
	}
	return s
}

// TimeFormatter formats times for the tabular forms: relative to now on a
// terminal ("3 minutes ago", "in 2 days"), RFC 3339 UTC when piped and in
// CSV. A zero or nil time is "-" on a terminal and "" otherwise.
//
// It also formats numbers and durations the same way everywhere: Int with
// thousands separators on a terminal ("1,800,000") and plain when piped;
// Duration as Duration does, in both.
type TimeFormatter interface {
	Time(t time.Time) string
	TimePtr(t *time.Time) string
	Int(n int64) string
	// Human reports whether the output is for a person (a drawn table).
	Human() bool
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

func (f timeFormatter) Human() bool { return f.human }

func (f timeFormatter) Int(n int64) string {
	if f.human {
		return humanize.Comma(n)
	}
	return strconv.FormatInt(n, 10)
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
