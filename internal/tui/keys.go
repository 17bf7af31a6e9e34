package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/genericcorp/baton/pkg/api"
)

// KeyMap holds the key bindings of the monitor; it is a help.KeyMap.
type KeyMap struct {
	Up, Down  key.Binding
	Tab       key.Binding
	ShiftTab  key.Binding
	Filter    key.Binding
	Pause     key.Binding
	Enter     key.Binding
	Back      key.Binding
	Help      key.Binding
	Quit      key.Binding
	Accept    key.Binding // ends the filter prompt, keeping the filter
	Cancel    key.Binding // ends the filter prompt, clearing the filter
	Backspace key.Binding
	// CancelTask asks to cancel the selected task; Yes confirms.
	CancelTask key.Binding
	Yes        key.Binding
	// Logs follows the selected task's log lines in a pane.
	Logs key.Binding
}

// DefaultKeyMap returns the bindings of CONTRACT.md's `baton top`.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:         key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:       key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Tab:        key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next pane")),
		ShiftTab:   key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous pane")),
		Filter:     key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Pause:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Enter:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Back:       key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Help:       key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:       key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Accept:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply filter")),
		Cancel:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear filter")),
		Backspace:  key.NewBinding(key.WithKeys("backspace"), key.WithHelp("backspace", "delete")),
		CancelTask: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel task")),
		Yes:        key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes")),
		Logs:       key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "follow logs")),
	}
}

// ShortHelp is the help bar.
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Help, k.Quit, k.Tab, k.Filter, k.Pause, k.Enter, k.Logs, k.Back}
}

// FullHelp is the help shown by `?`, in columns.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Tab, k.ShiftTab},
		{k.Filter, k.Pause, k.Enter, k.Back},
		{k.Logs, k.CancelTask, k.Help, k.Quit},
	}
}

// filterKeyMap is the help bar while typing a filter.
type filterKeyMap struct{ k KeyMap }

func (f filterKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{f.k.Accept, f.k.Cancel, f.k.Backspace}
}

func (f filterKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{f.ShortHelp()} }

// handleKey is the keyboard part of Update.
func (m Model) handleKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	if m.filtering {
		switch {
		case msg.Type == tea.KeyCtrlC:
			return m.quit()
		case key.Matches(msg, k.Accept):
			m.filtering = false
		case key.Matches(msg, k.Cancel):
			m.filtering, m.filter = false, ""
		case key.Matches(msg, k.Backspace):
			if r := []rune(m.filter); len(r) > 0 {
				m.filter = string(r[:len(r)-1])
			}
		case msg.Type == tea.KeyRunes || msg.Type == tea.KeySpace:
			m.filter += string(msg.Runes)
		}
		m.sel[paneRunning], m.sel[paneQueued], m.sel[paneWaiting], m.wsSel = 0, 0, 0, 0
		return m, nil
	}
	m.notice = ""
	if m.confirm != "" {
		// Any key answers the question; only y cancels.
		id := m.confirm
		m.confirm = ""
		if key.Matches(msg, k.Yes) {
			m.notice = "cancelling " + id + "…"
			return m, cancelTask(m.gen, m.src, id)
		}
		m.notice = "not cancelled"
		return m, nil
	}
	if m.logTask != "" && (key.Matches(msg, k.Back) || key.Matches(msg, k.Logs)) {
		return m.closeLogs()
	}
	if m.detail != nil && (key.Matches(msg, k.Back) || key.Matches(msg, k.Enter)) {
		m.detail, m.detailEvents = nil, nil
		return m, nil
	}
	switch {
	case key.Matches(msg, k.Enter) && !m.adminList() && m.taskPane() && m.detail == nil && m.logTask == "":
		t, ok := m.selectedTask()
		if !ok {
			return m, nil
		}
		return m, fetchDetail(m.gen, m.src, t.ID)
	case key.Matches(msg, k.Logs) && !m.adminList() && (m.taskPane() || m.detail != nil):
		t, ok := m.selectedTask()
		if m.detail != nil {
			t, ok = *m.detail, true
		}
		if !ok {
			return m, nil
		}
		return m.openLogs(t.ID)
	case key.Matches(msg, k.CancelTask) && !m.adminList() && (m.taskPane() || m.detail != nil || m.logTask != ""):
		t, ok := m.selectedTask()
		switch {
		case m.logTask != "":
			t, ok = api.Task{ID: m.logTask}, true
			for _, x := range m.tasks {
				if x.ID == m.logTask {
					t = x
				}
			}
		case m.detail != nil:
			t, ok = *m.detail, true
		}
		if !ok {
			return m, nil
		}
		if api.IsTerminal(t.Status) {
			m.notice = t.ID + " has ended already (" + t.Status + ")"
			return m, nil
		}
		m.confirm = t.ID
	case key.Matches(msg, k.Quit):
		return m.quit()
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
	case key.Matches(msg, k.Pause):
		if m.paused || m.state == stateDisconnected {
			m.paused = false
			return m.restart()
		}
		m, cmd := m.halt()
		m.paused = true
		return m, cmd
	case key.Matches(msg, k.Tab):
		if !m.adminList() {
			m.focus = (m.focus + 1) % numPanes
		}
	case key.Matches(msg, k.ShiftTab):
		if !m.adminList() {
			m.focus = (m.focus + numPanes - 1) % numPanes
		}
	case key.Matches(msg, k.Up):
		m = m.move(-1)
	case key.Matches(msg, k.Down):
		m = m.move(1)
	case key.Matches(msg, k.Filter):
		m.filtering = true
		if !m.adminList() && !m.taskPane() {
			m.focus = paneRunning
		}
	case key.Matches(msg, k.Enter):
		if m.adminList() {
			return m.drillIn()
		}
	case key.Matches(msg, k.Back):
		switch {
		case m.filter != "":
			m.filter = ""
		case m.drilled:
			return m.drillOut()
		}
	}
	return m, nil
}

// quit stops the watch and the log stream and ends the program; the
// generations move on so that their last messages (a closed channel) do
// not change the final frame.
func (m Model) quit() (tea.Model, tea.Cmd) {
	stopLogs := stop(m.logCancel)
	m.logGen++
	m.logCancel, m.logCh = nil, nil
	m, stopWatch := m.halt()
	return m, tea.Sequence(stopLogs, stopWatch, tea.Quit)
}

// move moves the selection of the focused pane by d.
func (m Model) move(d int) Model {
	if m.adminList() {
		m.wsSel = clamp(m.wsSel+d, len(m.filteredSpaces()))
		return m
	}
	n := 0
	switch m.focus {
	case paneGauges:
		n = len(api.QuotaMetrics)
	case paneRunning, paneQueued, paneWaiting:
		n = len(m.paneTasks(m.focus))
	case paneAlerts:
		n = len(m.alerts)
	}
	m.sel[m.focus] = clamp(m.sel[m.focus]+d, n)
	return m
}

// clamp keeps i within [0, n).
func clamp(i, n int) int {
	if i >= n {
		i = n - 1
	}
	if i < 0 {
		i = 0
	}
	return i
}

// drillIn opens the selected workspace of the admin list.
func (m Model) drillIn() (tea.Model, tea.Cmd) {
	spaces := m.filteredSpaces()
	if len(spaces) == 0 || m.paused {
		return m, nil
	}
	id := spaces[m.wsSel].WorkspaceID
	m, stopLogs := m.closeLogs()
	m, stopCmd := m.halt()
	stopCmd = tea.Batch(stopLogs, stopCmd)
	m.drilled, m.drillID = true, id
	m.filter, m.focus, m.sel = "", paneGauges, [numPanes]int{}
	m.quota, m.history, m.tasks, m.alerts, m.tasksErr, m.alertErr = nil, nil, nil, nil, "", ""
	m.state, m.err = stateConnecting, ""
	return m, tea.Batch(stopCmd, openWorkspace(m.gen, m.root, id))
}

// drillOut goes back to the admin list.
func (m Model) drillOut() (tea.Model, tea.Cmd) {
	m.drilled, m.drillID, m.src = false, "", m.root
	m.quota, m.history, m.tasks, m.alerts = nil, nil, nil, nil
	m.filter = ""
	if m.paused {
		m, cmd := m.halt()
		return m, cmd
	}
	return m.restart()
}

// paneTasks are the tasks of a task pane that the filter matches: the
// running pane's running and recently finished tasks, the queued pane's
// queued and held ones, the waiting pane's waiting ones (in the order the
// Source gave them).
func (m Model) paneTasks(pane int) []api.Task {
	var out []api.Task
	for _, t := range m.tasks {
		if paneOf(t) == pane && m.taskMatches(t) {
			out = append(out, t)
		}
	}
	return out
}

// paneOf is the task pane that lists t.
func paneOf(t api.Task) int {
	switch t.Status {
	case api.TaskQueued:
		return paneQueued
	case api.TaskWaiting:
		return paneWaiting
	}
	return paneRunning
}

// waitingTasks are the waiting tasks that the filter matches.
func (m Model) waitingTasks() []api.Task { return m.paneTasks(paneWaiting) }

// taskMatches reports whether the filter is a substring (any case) of the
// task's id, queue, status (held included), status reason, the worker
// running it (when known) or one of its labels (as k=v).
func (m Model) taskMatches(t api.Task) bool {
	if m.filter == "" {
		return true
	}
	fields := []string{t.ID, t.Queue, t.Status, t.StatusReason, statusOf(t), m.workers[t.ID]}
	for k, v := range t.Labels {
		fields = append(fields, k+"="+v)
	}
	return matches(m.filter, fields...)
}

// statusOf is the status the panes show: a queued task with a reason is
// held (a used-up quota or a suspension keeps it queued).
func statusOf(t api.Task) string {
	if t.Status == api.TaskQueued && t.StatusReason != "" {
		return "held"
	}
	return t.Status
}

// taskPane reports whether the focus is on a list of tasks.
func (m Model) taskPane() bool {
	return m.focus == paneRunning || m.focus == paneQueued || m.focus == paneWaiting
}

// selectedTask is the selected task of the focused task list.
func (m Model) selectedTask() (api.Task, bool) {
	if !m.taskPane() {
		return api.Task{}, false
	}
	tasks := m.paneTasks(m.focus)
	if len(tasks) == 0 {
		return api.Task{}, false
	}
	return tasks[clamp(m.sel[m.focus], len(tasks))], true
}

// openLogs opens the log pane on task id, following its events.
func (m Model) openLogs(id string) (tea.Model, tea.Cmd) {
	m, stopCmd := m.closeLogs()
	m.detail, m.detailEvents = nil, nil
	m.logTask, m.logLines, m.logState = id, nil, "following"
	return m, tea.Batch(stopCmd, startLogs(m.logGen, m.src, id))
}

// closeLogs closes the log pane and stops its stream (outside Update).
func (m Model) closeLogs() (Model, tea.Cmd) {
	cmd := stop(m.logCancel)
	m.logGen++
	m.logTask, m.logLines, m.logState, m.logCh, m.logCancel = "", nil, "", nil, nil
	return m, cmd
}

// filteredSpaces are the workspaces whose id, name or tier contain the
// filter.
func (m Model) filteredSpaces() []api.Quota {
	if m.filter == "" {
		return m.spaces
	}
	var out []api.Quota
	for _, q := range m.spaces {
		if matches(m.filter, q.WorkspaceID, q.WorkspaceName, q.Tier) {
			out = append(out, q)
		}
	}
	return out
}

func matches(filter string, fields ...string) bool {
	f := strings.ToLower(filter)
	for _, s := range fields {
		if strings.Contains(strings.ToLower(s), f) {
			return true
		}
	}
	return false
}
