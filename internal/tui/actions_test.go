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
	m, _ = update(m, press("tab")) // gauges → tasks
	if m.focus != paneTasks {
		t.Fatalf("focus %d", m.focus)
	}
	first := m.filteredTasks()[0]
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
	for i, x := range m.filteredTasks() {
		if api.IsTerminal(x.Status) {
			m.sel[paneTasks] = i
			break
		}
	}
	m, cmd = update(m, press("c"))
	if cmd != nil || m.confirm != "" || !strings.Contains(m.View(), "has ended already") {
		t.Fatalf("finished task:\n%s", m.View())
	}
}

// TestOpenTask (issue 16 row 6): enter on the tasks pane opens the task
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
		if m.detail != nil || !strings.Contains(m.View(), "Tasks ·") {
			t.Fatalf("esc:\n%s", m.View())
		}
	}
}
