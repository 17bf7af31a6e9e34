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

// tasksPane renders the running and recently finished tasks in w×h.
func (m Model) tasksPane(w, h int) []string {
	tasks := m.filteredTasks()
	running, queued := 0, 0
	for _, t := range tasks {
		switch t.Status {
		case api.TaskRunning:
			running++
		case api.TaskQueued:
			queued++
		}
	}
	title := m.paneTitle("Tasks", paneTasks) + m.styles.Dim.Render(fmt.Sprintf(" · %d running · %d queued · %d finished", running, queued, len(tasks)-running-queued))
	title += m.filterTitle()
	lines := []string{title}
	const qw, sw, aw, dw, cw = 10, 10, 3, 8, 8
	iw := max(w-qw-sw-aw-dw-cw-7, 8)
	// A pane with room to spare past whole ids shows the worker of each
	// running task last, cut with … when long (a worker id is a host name
	// and a pid, free text); narrower, enter shows it in the task.
	ww := 0
	if iw-idWidth-1 >= minWorkerWidth {
		ww, iw = iw-idWidth-1, idWidth
	}
	row := func(mark, id, queue, status, att, dur, cost, worker string) string {
		s := mark + padRight(id, iw) + " " + padRight(queue, qw) + " " + padRight(status, sw) + " " + padLeft(att, aw) + " " +
			padLeft(dur, dw) + " " + padLeft(cost, cw)
		if ww > 0 {
			s += " " + cut(worker, ww)
		}
		return s
	}
	lines = append(lines, m.styles.Dim.Render(row("  ", "ID", "QUEUE", "STATUS", "ATT", "DURATION", "COST", "WORKER")))
	switch {
	case m.tasksErr != "":
		lines = append(lines, "  "+m.styles.Error.Render(m.tasksErr))
	case len(tasks) == 0:
		lines = append(lines, "  "+m.styles.Dim.Render("no running, queued or recently finished tasks"))
	}
	rows := h - len(lines)
	sel := clamp(m.sel[paneTasks], len(tasks))
	from := window(sel, len(tasks), rows)
	for i := from; i < len(tasks) && i < from+rows; i++ {
		t := tasks[i]
		mark := "  "
		if m.focus == paneTasks && i == sel {
			mark = "▸ "
		}
		status := statusOf(t)
		switch status {
		case api.TaskFailed, api.TaskTerminated, api.TaskTimedOut:
			status = m.styles.Level[levelCrit].Render(padRight(status, sw))
		case api.TaskRunning:
			status = m.styles.Level[levelOK].Render(padRight(status, sw))
		case "held":
			status = m.styles.Level[levelWarn].Render(padRight(status, sw))
		}
		att := attemptText(t)
		lines = append(lines, row(mark, t.ID, t.Queue, status, att, taskDuration(t, m.clock()), taskCost(t.Usage.CostMicros), m.workers[t.ID]))
	}
	return fit(lines, h)
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

// waitingPane renders the waiting tasks (sleeping, waiting for a signal,
// a child task, an operator or budget) in w×h, with what each waits for.
func (m Model) waitingPane(w, h int) []string {
	tasks := m.waitingTasks()
	lines := []string{m.paneTitle("Waiting", paneWaiting) + m.styles.Dim.Render(fmt.Sprintf(" · %d", len(tasks))) + m.filterTitle()}
	const qw, aw, gw = 10, 3, 8
	rw := max(w-2-idWidth-qw-aw-gw-4, 8)
	row := func(mark, id, queue, att, age, reason string) string {
		return mark + padRight(id, idWidth) + " " + padRight(queue, qw) + " " + padLeft(att, aw) + " " + padLeft(age, gw) + " " + cut(reason, rw)
	}
	if h > 2 {
		lines = append(lines, m.styles.Dim.Render(row("  ", "ID", "QUEUE", "ATT", "AGE", "WAITING FOR")))
	}
	if len(tasks) == 0 {
		lines = append(lines, "  "+m.styles.Dim.Render("no waiting tasks"))
	}
	rows := h - len(lines)
	sel := clamp(m.sel[paneWaiting], len(tasks))
	from := window(sel, len(tasks), rows)
	for i := from; i < len(tasks) && i < from+rows; i++ {
		t := tasks[i]
		mark := "  "
		if m.focus == paneWaiting && i == sel {
			mark = "▸ "
		}
		reason := t.StatusReason
		if reason == "" {
			reason = "-"
		}
		lines = append(lines, row(mark, t.ID, t.Queue, attemptText(t), taskDuration(api.Task{CreatedAt: t.CreatedAt}, m.clock()), m.styles.Level[levelWarn].Render(reason)))
	}
	return fit(lines, h)
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
		if ev.Type == api.EventLog {
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
		lines = append(lines, cut("  "+ev.At.UTC().Format("15:04:05")+" ["+fmt.Sprint(ev.Attempt)+"] "+ev.Message, w))
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
		line := "[" + fmt.Sprint(ev.Attempt) + "] " + ev.Message
		if ev.Type != api.EventLog {
			line = "==> " + ev.Status
			if ev.Message != "" {
				line += ": " + ev.Message
			}
		}
		lines = append(lines, cut("  "+ev.At.UTC().Format("15:04:05")+" "+line, w))
	}
	return fit(lines, h)
}
