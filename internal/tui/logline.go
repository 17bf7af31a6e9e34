package tui

import (
	"fmt"

	"github.com/genericcorp/baton/pkg/api"
)

// logLine is how a log line or a stream line (an agent's token stream,
// `baton step emit`) of a task reads in the log views: a log line with its
// attempt ("[2] text"), a stream line with its channel ("[tokens] text";
// with its attempt when it has none). ok is false for the other events.
func logLine(ev api.TaskEvent) (line string, ok bool) {
	switch {
	case ev.Type == api.EventStream && ev.Channel != "":
		return "[" + ev.Channel + "] " + ev.Message, true
	case ev.Type == api.EventLog || ev.Type == api.EventStream:
		return fmt.Sprintf("[%d] %s", ev.Attempt, ev.Message), true
	}
	return "", false
}
