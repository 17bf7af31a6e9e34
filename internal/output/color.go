package output

// ANSI colours of statuses: the same on every command, so `tasks list`,
// `tasks get` and `baton top` agree.
const (
	green  = "\x1b[32m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	cyan   = "\x1b[36m"
	gray   = "\x1b[90m"
)

// statusColor is the colour of a status word ("" for none): green for
// success and health, red for failure, yellow for waiting or a warning,
// cyan for work in progress, gray for what was stopped on purpose.
func statusColor(s string) string {
	switch s {
	case "succeeded", "active", "ok", "healthy", "acked", "resolved":
		return green
	case "failed", "timed_out", "terminated", "revoked", "expired", "suspended", "error", "firing", "open":
		return red
	case "queued", "held", "waiting", "warning", "draining", "retrying", "expiring":
		return yellow
	case "running", "claimed":
		return cyan
	case "cancelled", "idle":
		return gray
	}
	return ""
}

// Colorize wraps s in the colour of the status it names (nothing for an
// unknown status); callers check whether colour is enabled.
func Colorize(s string) string {
	if c := statusColor(s); c != "" {
		return c + s + reset
	}
	return s
}

// colorCell colours the cells of a "status" (or "state") column that are
// not cut (w is the column's width).
func colorCell(header, v string, w int) string {
	if header != "status" && header != "state" || len(v) > w {
		return v
	}
	return Colorize(v)
}
