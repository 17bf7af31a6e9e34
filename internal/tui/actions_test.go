package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// sized is m after a window size and the tasks of src.
func sized(t *testing.T, m Model, w, h int) Model {
	t.Helper()
	m, _ = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	tasks, _ := m.src.Tasks(t.Context())
	m, _ = update(m, tasksMsg{gen: m.gen, tasks: tasks})
	return m
}

// TestCancelFromTop (issue 16 row 6): `c` on a running task asks first;
// y cancels it through the Source, another key keeps it; a finished task
// is not offered.
func TestCancelFromTop(t *testing.T) {
	src := newFakeSource()
	m := sized(t, newModel(src), 120, 40)
	m, _ = update(m, press("tab")) // gauges → running
	if m.focus != paneRunning {
		t.Fatalf("focus %d", m.focus)
	}
	first := m.paneTasks(paneRunning)[0]
	if first.Status != api.TaskRunning {
		t.Fatalf("first task %s", first.Status)
	}

	// Asked, then kept with another key.
	m, _ = update(m, press("c"))
	if m.confirm != first.ID || !strings.Contains(m.View(), "Cancel task "+first.ID+"? y to cancel") {
		t.Fatalf("no question:\n%s", m.View())
	}
	m, cmd := update(m, press("n"))
	if cmd != nil || m.confirm != "" || len(src.cancelled) != 0 || !strings.Contains(m.View(), "not cancelled") {
		t.Fatalf("n cancelled: %v\n%s", src.cancelled, m.View())
	}

	// Asked, then cancelled with y.
	m, _ = update(m, press("c"))
	m, cmd = update(m, press("y"))
	done := find[cancelledMsg](t, cmd)
	if len(src.cancelled) != 1 || src.cancelled[0] != first.ID || done.err != nil {
		t.Fatalf("cancelled %v, %v", src.cancelled, done.err)
	}
	m, cmd = update(m, done)
	if !strings.Contains(m.View(), "cancelled "+first.ID) || m.tasks[0].Status != api.TaskCancelled {
		t.Fatalf("after cancel:\n%s", m.View())
	}
	find[tasksMsg](t, cmd) // the list is read again

	// A finished task: nothing to cancel.
	for i, x := range m.paneTasks(paneRunning) {
		if api.IsTerminal(x.Status) {
			m.sel[paneRunning] = i
			break
		}
	}
	m, cmd = update(m, press("c"))
	if cmd != nil || m.confirm != "" || !strings.Contains(m.View(), "has ended already") {
		t.Fatalf("finished task:\n%s", m.View())
	}
}

// TestOpenTask (issue 16 row 6): enter on the running pane opens the task
// (fields, attempts, the tail of its events), golden at 80×24 and 120×40;
// c cancels from there; esc goes back.
func TestOpenTask(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		src := newFakeSource()
		m := sized(t, newModel(src), size[0], size[1])
		q := quotaAt(t0, 62)
		m, _ = update(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q, State: client.WatchLive}})
		m, _ = update(m, press("tab"))
		m, cmd := update(m, press("enter"))
		m, _ = update(m, find[detailMsg](t, cmd))
		if m.detail == nil || m.detail.ID != "task_01jdq8a0b1c2d3e4f5g6h7j8k1" {
			t.Fatalf("not opened: %+v", m.detail)
		}
		golden(t, "task_"+sizeName(size[0], size[1]), m.View()+"\n")
		if v := m.View(); !strings.Contains(v, "reading the report") || !strings.Contains(v, "attempt 1") {
			t.Fatalf("detail:\n%s", v)
		}
		m, _ = update(m, press("c"))
		if m.confirm != m.detail.ID {
			t.Fatalf("c from the detail: confirm %q", m.confirm)
		}
		m, _ = update(m, press("n"))
		m, _ = update(m, press("esc"))
		if m.detail != nil || !strings.Contains(m.View(), "Running ·") {
			t.Fatalf("esc:\n%s", m.View())
		}
	}
}

// TestActionsInEveryTaskPane (issue 16: "panes for running, queued/held
// and waiting tasks"): tab moves the focus gauges → running → queued/held
// → waiting, and in whichever task pane has it, down moves that pane's
// selection only, enter opens the selected task, l follows its logs, c
// asks to cancel it and `/` filters every pane, keeping the focus.
func TestActionsInEveryTaskPane(t *testing.T) {
	for _, c := range []struct {
		pane   int
		title  string
		second string // the pane's second task, selected with down
	}{
		{paneRunning, "▸ Running · 2 · 3 finished", "task_01jdq8a0b1c2d3e4f5g6h7j8k2"},
		{paneQueued, "▸ Queued/held · 1 · 1 held", "task_01jdq8a0b1c2d3e4f5g6h7j8k7"},
		{paneWaiting, "▸ Waiting · 2", "task_01jdq8a0b1c2d3e4f5g6h7j8m2"},
	} {
		src := newFakeSource()
		m := sized(t, newModel(src), 120, 40)
		for m.focus != c.pane {
			m, _ = update(m, press("tab"))
		}
		m, _ = update(m, press("down"))
		for p := paneRunning; p <= paneWaiting; p++ {
			if want := map[bool]int{true: 1}[p == c.pane]; m.sel[p] != want {
				t.Fatalf("%s: selection of pane %d is %d, want %d", c.title, p, m.sel[p], want)
			}
		}
		v := m.View()
		if !strings.Contains(v, c.title) || !strings.Contains(v, "▸ "+c.second) || strings.Count(v, "▸ task_") != 1 {
			t.Fatalf("%s: focus or selection not shown:\n%s", c.title, v)
		}

		m2, cmd := update(m, press("enter"))
		m2, _ = update(m2, find[detailMsg](t, cmd))
		if m2.detail == nil || m2.detail.ID != c.second {
			t.Fatalf("%s: enter opened %+v, want %s", c.title, m2.detail, c.second)
		}

		m2, cmd = update(m, press("l"))
		if m2.logTask != c.second {
			t.Fatalf("%s: l follows %q, want %s", c.title, m2.logTask, c.second)
		}
		find[logStartedMsg](t, cmd).cancel()
		if follows, _ := src.followCounts(); len(follows) != 1 || follows[0] != c.second {
			t.Fatalf("%s: followed %v", c.title, follows)
		}

		m2, _ = update(m, press("c"))
		if m2.confirm != c.second {
			t.Fatalf("%s: c asks about %q, want %s", c.title, m2.confirm, c.second)
		}

		m2, _ = update(m, press("/"))
		m2, _ = update(m2, press("r"))
		m2, _ = update(m2, press("e"))
		if m2.focus != c.pane || !strings.Contains(m2.View(), "filter: re▏") || m2.sel[c.pane] != 0 {
			t.Fatalf("%s: / moved the focus to %d or kept the selection:\n%s", c.title, m2.focus, m2.View())
		}
	}
}
