package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// updating reports whether the tests run with -update. The flag itself
// is teatest's (its golden package defines -update in this test binary).
func updating() bool {
	f := flag.Lookup("update")
	return (f != nil && f.Value.String() == "true") || os.Getenv("BATON_UPDATE_GOLDEN") == "1"
}

// golden compares got with testdata/name.golden (rewritten by -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/tui -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test ./internal/tui -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// send drives Update with msgs, ignoring the commands.
func send(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

// history is the update messages of five minutes of snapshots, 10 s
// apart, whose monthly gauges climb unevenly to pct percent at t0.
func history(m Model, pct float64) []tea.Msg {
	steps := []float64{1, 3, 0, 2, 5, 1, 0, 0, 4, 2}
	var total float64
	for i := 1; i <= 30; i++ {
		total += steps[i%len(steps)]
	}
	var out []tea.Msg
	p := pct - 5
	for i := 0; i <= 30; i++ {
		if i > 0 {
			p += 5 * steps[i%len(steps)] / total
		}
		if i == 30 {
			p = pct
		}
		q := quotaAt(t0.Add(time.Duration(i-30)*10*time.Second), p)
		out = append(out, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q, State: client.WatchLive}})
	}
	return out
}

// loaded is a monitor at w×h that has read pct-percent history, the tasks
// and the alerts.
func loaded(w, h int, pct float64) Model {
	m := New(Options{Server: "http://127.0.0.1:7070", Profile: "default", Renderer: asciiRenderer(), Now: t0})
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	m = send(m, history(m, pct)...)
	return send(m, tasksMsg{gen: m.gen, tasks: someTasks(), workers: someWorkers()}, alertsMsg{gen: m.gen, alerts: someAlerts()}, usageMsg{gen: m.gen, usage: someUsage()})
}

// states are the four states of the view's goldens.
var states = map[string]func(w, h int) Model{
	"normal": func(w, h int) Model { return loaded(w, h, 62) },
	"85pct":  func(w, h int) Model { return loaded(w, h, 85) },
	"overflow": func(w, h int) Model {
		m := loaded(w, h, 112)
		q := *m.quota
		q.Exceeded = []string{api.QuotaTaskExecutions, api.QuotaExecutionSeconds}
		q.Held, q.Queued = 12, 12
		return send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q, State: client.WatchLive}})
	},
	"disconnected": func(w, h int) Model {
		m := loaded(w, h, 62)
		return send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Err: errString("read quota: unauthenticated: the API key was revoked")}},
			updateMsg{gen: m.gen, closed: true})
	},
}

type errString string

func (e errString) Error() string { return string(e) }

func TestViewGolden(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for name, mk := range states {
			w, h := size[0], size[1]
			t.Run(name+"/"+sizeName(w, h), func(t *testing.T) {
				view := mk(w, h).View()
				checkFrame(t, view, w, h)
				golden(t, name+"_"+sizeName(w, h), view+"\n")
			})
		}
	}
}

func sizeName(w, h int) string { return fmt.Sprintf("%dx%d", w, h) }

// checkFrame fails unless view is exactly h lines of at most w cells.
func checkFrame(t *testing.T, view string, w, h int) {
	t.Helper()
	lines := strings.Split(view, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if lw := lipgloss.Width(l); lw > w {
			t.Errorf("line %d is %d cells wide (> %d): %q", i+1, lw, w, l)
		}
	}
}

// Every state fits every size from 80×24 up (the colours are
// TestGaugeColours').
func TestViewFits(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {81, 25}, {100, 30}, {109, 24}, {110, 24}, {160, 50}, {250, 60}} {
		for name, mk := range states {
			m := mk(size[0], size[1])
			t.Run(name+"/"+sizeName(size[0], size[1]), func(t *testing.T) {
				checkFrame(t, m.View(), size[0], size[1])
				m.help.ShowAll = true
				checkFrame(t, m.View(), size[0], size[1])
			})
		}
	}
	// The admin list too.
	m := adminModel(80, 24)
	checkFrame(t, m.View(), 80, 24)
	m = send(m, tea.WindowSizeMsg{Width: 120, Height: 40})
	checkFrame(t, m.View(), 120, 40)
}

// The workspace id is never cut: at 80 columns the period gives way.
func TestWorkspaceIDWhole(t *testing.T) {
	for _, w := range []int{80, 120} {
		m := loaded(w, 24, 62)
		line := strings.Split(m.View(), "\n")[1]
		if !strings.HasSuffix(line, "ws_01jdq7k3x9m2v5n8p4r6t0w2y4") {
			t.Errorf("%d columns: %q", w, line)
		}
	}
}

// TestShare: the task panes (and, stacked, the alerts) share the lines
// left under the gauges: 2 each first, then one at a time to each pane
// that needs more, so that a crowded pane takes what the others leave but
// never starves them; with everything shown, a blank line parts the panes
// and the rest pads the last.
func TestShare(t *testing.T) {
	for _, c := range []struct {
		n     int
		needs []int
		want  []int
	}{
		{12, []int{6, 3, 3, 3}, []int{3, 3, 3, 3}},  // 80×24: everyone gets a title and rows
		{27, []int{6, 3, 3}, []int{7, 4, 16}},       // 120×40: all shown, parted, padding last
		{13, []int{61, 2, 3, 3}, []int{5, 2, 3, 3}}, // a crowded running pane takes the rest
		{27, []int{3, 40, 3}, []int{3, 21, 3}},      // so does a crowded queue
		{27, []int{40, 40, 3}, []int{12, 12, 3}},    // two crowded panes split it
		{5, []int{6, 3, 3, 3}, []int{2, 2, 1, 0}},   // too small: the first panes first
		{11, []int{6, 3, 3}, []int{5, 3, 3}},        // one line short of parting them
		{14, []int{6, 3, 3}, []int{7, 4, 3}},        // exactly room to part them
		{0, []int{6, 3}, []int{0, 0}},
	} {
		got := share(c.n, c.needs...)
		sum := 0
		for _, h := range got {
			sum += h
		}
		if !slices.Equal(got, c.want) || sum != c.n {
			t.Errorf("share(%d, %v) = %v, want %v", c.n, c.needs, got, c.want)
		}
	}
}
