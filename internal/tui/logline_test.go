package tui

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// The log pane shows an agent's stream lines (baton step emit) live with
// their channel, between its log lines; state changes stay out.
func TestLogPaneShowsStreams(t *testing.T) {
	src := newFakeSource()
	m := sized(t, newModel(src), 120, 40)
	m, _ = update(m, press("tab"))
	m, cmd := update(m, press("l"))
	m, cmd = update(m, find[logStartedMsg](t, cmd))
	for i, ev := range []api.TaskEvent{
		{Type: api.EventLog, Attempt: 1, Message: "thinking"},
		{Type: api.EventStream, Channel: "tokens", Attempt: 1, Message: "fan"},
		{Type: api.EventState, Status: api.TaskRunning, Attempt: 1},
		{Type: api.EventStream, Attempt: 1, Message: "plain"},
	} {
		ev.Seq, ev.At = int64(i+1), t0
		src.logs <- LogUpdate{Event: &ev}
		m, cmd = update(m, find[logMsg](t, cmd))
	}
	v := m.View()
	i, j, k := strings.Index(v, "[1] thinking"), strings.Index(v, "[tokens] fan"), strings.Index(v, "[1] plain")
	if i < 0 || j < i || k < j || strings.Contains(v, "==>") {
		t.Fatalf("log pane, want thinking, [tokens] fan, plain and no state:\n%s", v)
	}
}
