package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/genericcorp/baton/pkg/api"
)

// paneTitle renders a pane's title, underlined when it has the focus.
func (m Model) paneTitle(title string, pane int) string {
	if m.focus == pane {
		return m.styles.Focused.Render("▸ " + title)
	}
	return m.styles.Pane.Render("  " + title)
}

// window returns the first visible index of a list of n rows shown in
// rows lines with sel selected.
func window(sel, n, rows int) int {
	if rows <= 0 || n <= rows {
		return 0
	}
	return min(max(sel-rows+1, 0), n-rows)
}

// idWidth is the width of a task id (task_ and a 26-character ULID), and
// minWorkerWidth the narrowest WORKER column worth showing.
const idWidth, minWorkerWidth = 31, 12

// attemptText is a task's attempt of its maximum ("1/3"), "-" when the
// task has no maximum (an older server).
func attemptText(t api.Task) string {
	if t.MaxAttempts == 0 {
		return "-"
	}
	return fmt.Sprintf("%d/%d", t.Attempt, t.MaxAttempts)
}

// taskList is one pane listing tasks: its title, the columns after the id
// (their header and each task's), and what it says when empty.
type taskList struct {
	pane   int
	title  string
	header string // the column headers after the id column
	tasks  []api.Task
	empty  string
	err    string
	// row renders the columns after the id column of one task.
	row func(t api.Task) string
}

// idColumn is the width of a task pane's id column: the selection mark
// and a whole id, then a space.
const idColumn = 2 + idWidth + 1

// headLines is how many lines the pane's head takes with room to spare:
// one when the title fits in the id column, so that the column headers
// share its line; else the title, then the headers on a line of their
// own.
func (l taskList) headLines() int {
	if lipgloss.Width(l.title) < idColumn {
		return 1
	}
	return 2
}

// need is how many lines the pane shows all its tasks in.
func (l taskList) need() int { return l.headLines() + max(len(l.tasks), 1) }

// render draws the pane in h lines, scrolled so that its selected task
// shows.
func (m Model) render(l taskList, h int) []string {
	var lines []string
	switch {
	case l.headLines() == 1:
		lines = append(lines, padRight(l.title, idColumn-1)+m.styles.Dim.Render(l.header))
	case h > 2:
		lines = append(lines, l.title, m.styles.Dim.Render(padRight("  ID", idColumn-1)+l.header))
	default:
		lines = append(lines, l.title)
	}
	switch {
	case l.err != "":
		lines = append(lines, "  "+m.styles.Error.Render(l.err))
	case len(l.tasks) == 0:
		lines = append(lines, "  "+m.styles.Dim.Render(l.empty))
	}
	rows := h - len(lines)
	sel := clamp(m.sel[l.pane], len(l.tasks))
	from := window(sel, len(l.tasks), rows)
	for i := from; i < len(l.tasks) && i < from+rows; i++ {
		mark := "  "
		if m.focus == l.pane && i == sel {
			mark = "▸ "
		}
		lines = append(lines, mark+padRight(l.tasks[i].ID, idWidth)+l.row(l.tasks[i]))
	}
	return fit(lines, h)
}

// runningList is the pane of running and recently finished tasks at
// width w: attempt, how long each ran, its cost and, with room to spare
// past whole ids, the worker of each running task, cut with … when long
// (a worker id is a host name and a pid, free text); narrower, enter
// shows it in the task.
func (m Model) runningList(w int) taskList {
	tasks := m.paneTasks(paneRunning)
	running := 0
	for _, t := range tasks {
		if t.Status == api.TaskRunning {
			running++
		}
	}
	const qw, sw, aw, dw, cw = 10, 10, 3, 8, 8
	ww := w - idColumn - qw - sw - aw - dw - cw - 5
	if ww < minWorkerWidth {
		ww = 0
	}
	cols := func(queue, status, att, dur, cost, worker string) string {
		s := " " + padRight(queue, qw) + " " + padRight(status, sw) + " " + padLeft(att, aw) + " " + padLeft(dur, dw) + " " + padLeft(cost, cw)
		if ww > 0 {
			s += " " + cut(worker, ww)
		}
		return s
	}
	return taskList{
		pane:   paneRunning,
		title:  m.paneTitle("Running", paneRunning) + m.styles.Dim.Render(fmt.Sprintf(" · %d · %d finished", running, len(tasks)-running)) + m.filterTitle(),
		header: cols("QUEUE", "STATUS", "ATT", "DURATION", "COST", "WORKER"),
		tasks:  tasks, err: m.tasksErr, empty: "no running or recently finished tasks",
		row: func(t api.Task) string {
			status := t.Status
			switch status {
			case api.TaskFailed, api.TaskTerminated, api.TaskTimedOut:
				status = m.styles.Level[levelCrit].Render(padRight(status, sw))
			case api.TaskRunning:
				status = m.styles.Level[levelOK].Render(padRight(status, sw))
			}
			return cols(t.Queue, status, attemptText(t), taskDuration(t, m.clock()), taskCost(t.Usage.CostMicros), m.workers[t.ID])
		},
	}
}

// queuedList is the pane of queued and held tasks at width w: attempt,
// age (since it was submitted) and what each waits for: a worker, its
// next attempt's time, or what holds it.
func (m Model) queuedList(w int) taskList {
	tasks := m.paneTasks(paneQueued)
	held := 0
	for _, t := range tasks {
		if statusOf(t) == "held" {
			held++
		}
	}
	const qw, sw, aw, gw = 10, 6, 3, 8
	rw := max(w-idColumn-qw-sw-aw-gw-4, 8)
	cols := func(queue, status, att, age, why string) string {
		return " " + padRight(queue, qw) + " " + padRight(status, sw) + " " + padLeft(att, aw) + " " + padLeft(age, gw) + " " + cut(why, rw)
	}
	return taskList{
		pane:   paneQueued,
		title:  m.paneTitle("Queued/held", paneQueued) + m.styles.Dim.Render(fmt.Sprintf(" · %d · %d held", len(tasks)-held, held)) + m.filterTitle(),
		header: cols("QUEUE", "STATUS", "ATT", "AGE", "WAITING FOR"),
		tasks:  tasks, empty: "no queued or held tasks",
		row: func(t api.Task) string {
			status, why := statusOf(t), "a worker"
			switch {
			case status == "held":
				why = m.styles.Level[levelWarn].Render(strings.TrimPrefix(t.StatusReason, "held: "))
				status = m.styles.Level[levelWarn].Render(padRight(status, sw))
			case t.RunAt.After(m.clock()) && t.Attempt > 0:
				why = "retry in " + until(t.RunAt.Sub(m.clock()))
			case t.RunAt.After(m.clock()):
				why = "start in " + until(t.RunAt.Sub(m.clock()))
			}
			return cols(t.Queue, status, attemptText(t), taskDuration(api.Task{CreatedAt: t.CreatedAt}, m.clock()), why)
		},
	}
}

// filterTitle is what the task panes' titles say of the filter.
func (m Model) filterTitle() string {
	if !m.filtering && m.filter == "" {
		return ""
	}
	f := " · filter: " + m.filter
	if m.filtering {
		f += "▏"
	}
	return f
}

// waitingList is the pane of waiting tasks (sleeping, waiting for a
// signal, a child task, an operator or budget) at width w: attempt, age
// and what each waits for.
func (m Model) waitingList(w int) taskList {
	const qw, aw, gw = 10, 3, 8
	rw := max(w-idColumn-qw-aw-gw-3, 8)
	cols := func(queue, att, age, reason string) string {
		return " " + padRight(queue, qw) + " " + padLeft(att, aw) + " " + padLeft(age, gw) + " " + cut(reason, rw)
	}
	tasks := m.waitingTasks()
	return taskList{
		pane:   paneWaiting,
		title:  m.paneTitle("Waiting", paneWaiting) + m.styles.Dim.Render(fmt.Sprintf(" · %d", len(tasks))) + m.filterTitle(),
		header: cols("QUEUE", "ATT", "AGE", "WAITING FOR"),
		tasks:  tasks, empty: "no waiting tasks",
		row: func(t api.Task) string {
			reason := t.StatusReason
			if reason == "" {
				reason = "-"
			}
			return cols(t.Queue, attemptText(t), taskDuration(api.Task{CreatedAt: t.CreatedAt}, m.clock()), m.styles.Level[levelWarn].Render(reason))
		},
	}
}

// logPane renders the followed task's log lines in w×h, newest last.
func (m Model) logPane(w, h int) []string {
	state := m.logState
	if state == "following" {
		state = m.styles.Level[levelOK].Render("● following")
	}
	lines := []string{m.styles.Focused.Render("▸ Logs "+m.logTask) + m.styles.Dim.Render(" · ") + state + m.styles.Dim.Render(" · esc back · c cancel")}
	var logs []api.TaskEvent
	for _, ev := range m.logLines {
		if _, ok := logLine(ev); ok {
			logs = append(logs, ev)
		}
	}
	room := h - len(lines)
	if len(logs) > room {
		logs = logs[len(logs)-room:]
	}
	if len(logs) == 0 {
		lines = append(lines, "  "+m.styles.Dim.Render("no log lines yet"))
	}
	for _, ev := range logs {
		line, _ := logLine(ev)
		lines = append(lines, cut("  "+ev.At.UTC().Format("15:04:05")+" "+line, w))
	}
	return fit(lines, h)
}

// alertsPane renders the open alerts in w×h.
func (m Model) alertsPane(w, h int) []string {
	lines := []string{m.paneTitle("Alerts", paneAlerts) + m.styles.Dim.Render(fmt.Sprintf(" · %d open", len(m.alerts)))}
	switch {
	case m.alertErr != "":
		lines = append(lines, "  "+m.styles.Error.Render(m.alertErr))
	case len(m.alerts) == 0:
		lines = append(lines, "  "+m.styles.Dim.Render("no open alerts"))
	}
	rows := h - len(lines)
	sel := clamp(m.sel[paneAlerts], len(m.alerts))
	// Each alert takes as many lines as its text needs, indented after
	// the first.
	var rowsOf [][]string
	for i, a := range m.alerts {
		mark := "  "
		if m.focus == paneAlerts && i == sel {
			mark = "▸ "
		}
		wrapped := m.alertLines(a, mark, w)
		rowsOf = append(rowsOf, wrapped)
	}
	// Scroll so that the selected alert shows.
	from := 0
	for used := 0; from < sel; from++ {
		used = 0
		for i := from; i <= sel; i++ {
			used += len(rowsOf[i])
		}
		if used <= rows {
			break
		}
	}
	for i := from; i < len(rowsOf) && len(lines) < h; i++ {
		lines = append(lines, rowsOf[i]...)
	}
	return fit(lines, h)
}

// alertLines is one alert: its time, a level mark and its message,
// wrapped to w with the message's lines aligned.
func (m Model) alertLines(a api.Alert, mark string, w int) []string {
	sign, st := "~", m.styles.Level[levelWarn]
	if a.Kind == api.AlertThreshold {
		sign = "!"
		if a.Threshold >= critPercent {
			sign, st = "✕", m.styles.Level[levelCrit]
		}
	}
	msg := a.Message
	if msg == "" {
		msg = fmt.Sprintf("%s %s %d%%", a.Kind, labelOf(a.Metric), a.Threshold)
	}
	prefix := mark + a.CreatedAt.UTC().Format("Jan 02 15:04") + " " + st.Render(sign) + " "
	pw := lipgloss.Width(prefix)
	lines := strings.Split(ansi.Wrap(msg, max(w-pw, 10), ""), "\n")
	for i := range lines {
		if i == 0 {
			lines[i] = cut(prefix+lines[i], w)
		} else {
			lines[i] = cut(strings.Repeat(" ", pw)+lines[i], w)
		}
	}
	return lines
}

// detailPane renders the opened task in w×h: its fields, its attempts and
// the tail of its events (log lines and state changes), newest last.
func (m Model) detailPane(w, h int) []string {
	t := *m.detail
	lines := []string{m.styles.Focused.Render("▸ Task "+t.ID) + m.styles.Dim.Render(" · esc back · c cancel")}
	field := func(k, v string) {
		if v != "" {
			lines = append(lines, cut("  "+padRight(k, 10)+" "+v, w))
		}
	}
	field("status", t.Status+map[bool]string{true: " (" + t.StatusReason + ")", false: ""}[t.StatusReason != ""])
	field("queue", t.Queue)
	field("attempt", fmt.Sprintf("%d of %d", t.Attempt, t.MaxAttempts))
	field("waited", taskDuration(api.Task{CreatedAt: t.CreatedAt}, m.clock()))
	if t.StartedAt != nil {
		field("ran", taskDuration(t, m.clock()))
	}
	field("cost", taskCost(t.Usage.CostMicros))
	field("error", t.Error)
	for _, a := range t.Attempts {
		field(fmt.Sprintf("attempt %d", a.Number), strings.TrimSpace(a.Status+" on "+a.WorkerID+" "+a.Error))
	}
	lines = append(lines, "", m.styles.Dim.Render("  Events · l follows the logs"))
	room := h - len(lines)
	evs := m.detailEvents
	if len(evs) > room {
		evs = evs[len(evs)-room:]
	}
	if len(evs) == 0 {
		lines = append(lines, "  "+m.styles.Dim.Render("no events yet"))
	}
	for _, ev := range evs {
		line, ok := logLine(ev)
		if !ok {
			line = "==> " + ev.Status
			if ev.Message != "" {
				line += ": " + ev.Message
			}
		}
		lines = append(lines, cut("  "+ev.At.UTC().Format("15:04:05")+" "+line, w))
	}
	return fit(lines, h)
}
