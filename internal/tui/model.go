// Package tui is `baton top`: a bubbletea monitor of a workspace's usage
// against its quota (or, with an operator key, of every workspace). Update
// is pure: it never reads the clock, the network or starts goroutines;
// every bit of I/O happens in the tea.Cmds of cmds.go, whose messages carry
// a generation so that only one watch and one tick loop are ever live.
package tui

import (
	"context"
	"slices"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// Connection states shown in the header: the watch's own (live,
// reconnecting, polling) and the monitor's.
const (
	stateConnecting   = "connecting"
	stateLive         = client.WatchLive
	stateReconnecting = client.WatchReconnecting
	statePolling      = client.WatchPolling
	stateDisconnected = "disconnected"
	statePaused       = "paused"
)

// Panes that tab cycles through.
const (
	paneGauges  = iota
	paneRunning // running and recently finished tasks
	paneQueued  // queued and held tasks
	paneWaiting
	paneAlerts
	numPanes
)

// maxLogLines is how many lines the log pane keeps.
const maxLogLines = 500

// Defaults of Options.
const (
	DefaultTick         = time.Second
	DefaultRefreshTicks = 5
	DefaultIdleTicks    = 60
	DefaultAdminTicks   = 2
	DefaultWindow       = 5 * time.Minute
	maxSamples          = 1500 // > DefaultWindow at the stream's 4 snapshots per second
)

// Options configure a Model.
type Options struct {
	Source Source
	// Server and Profile are shown in the header.
	Server, Profile string
	// Admin starts with every workspace (an operator key's view).
	Admin bool
	// Renderer makes the styles (nil: lipgloss's default renderer).
	Renderer *lipgloss.Renderer
	// Tick is the clock's period (default 1 s). Tasks and alerts are read
	// again at most every RefreshTicks ticks (default 5) after a snapshot
	// shows a change (other than the API rate, which the monitor's own
	// reads move), and every IdleTicks ticks anyway (default 60): the
	// monitor must not eat the workspace's request budget. The admin list
	// is read every AdminTicks ticks (default 2).
	Tick         time.Duration
	RefreshTicks int
	IdleTicks    int
	AdminTicks   int
	// Window is how far back the sparkline reaches (default 5 min).
	Window time.Duration
	// Now is the clock until the first tick or snapshot (tests fix it).
	Now time.Time
}

// sample is one snapshot's values, for the sparkline.
type sample struct {
	at   time.Time
	vals map[string]int64
}

// Model is the monitor's state.
type Model struct {
	opt    Options
	styles Styles
	keys   KeyMap
	help   help.Model

	width, height int

	gen    int
	root   Source // the Source given
	src    Source // the one read now (root or a drilled-into workspace)
	ch     <-chan client.QuotaUpdate
	cancel context.CancelFunc

	admin   bool   // started with --all
	drilled bool   // admin mode, looking at one workspace
	drillID string // that workspace

	paused   bool
	state    string
	err      string // why the watch or the admin list failed
	quota    *api.Quota
	history  []sample
	tasks    []api.Task
	workers  map[string]string // the worker of each running task, by id
	tasksErr string
	alerts   []api.Alert
	alertErr string
	spaces   []api.Quota // admin list, sorted

	focus     int
	sel       [numPanes]int
	wsSel     int
	filtering bool
	filter    string

	confirm string // the task id `c` asks to cancel, until y or another key
	// detail is the task opened with enter (nil: none), with its events.
	detail       *api.Task
	detailEvents []api.TaskEvent
	notice       string // the outcome of the last action, in the help bar

	// The log pane (`l`): the task followed, its lines, and its own
	// generation so that closing it drops what is in flight.
	logTask   string
	logLines  []api.TaskEvent
	logState  string // "following", "ended: succeeded", an error
	logGen    int
	logCh     <-chan LogUpdate
	logCancel context.CancelFunc

	// today is the day's usage by hour (GET /v1/usage), for its sparkline.
	today    *api.UsageSeries
	todayErr string

	now       time.Time
	ticks     int
	lastSeen  time.Time // the clock when the last snapshot came
	lastFetch int       // the tick of the last read of tasks and alerts
	dirty     bool      // a snapshot changed since
}

// New returns a Model reading from o.Source.
func New(o Options) Model {
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.RefreshTicks <= 0 {
		o.RefreshTicks = DefaultRefreshTicks
	}
	if o.IdleTicks <= 0 {
		o.IdleTicks = DefaultIdleTicks
	}
	if o.AdminTicks <= 0 {
		o.AdminTicks = DefaultAdminTicks
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	st := NewStyles(o.Renderer)
	h := help.New()
	h.Styles.ShortKey, h.Styles.FullKey = st.HelpKey, st.HelpKey
	h.Styles.ShortDesc, h.Styles.FullDesc = st.HelpDesc, st.HelpDesc
	h.Styles.ShortSeparator, h.Styles.FullSeparator, h.Styles.Ellipsis = st.HelpSep, st.HelpSep, st.HelpSep
	return Model{opt: o, styles: st, keys: DefaultKeyMap(), help: h, width: 80, height: 24,
		gen: 1, root: o.Source, src: o.Source, admin: o.Admin, state: stateConnecting, now: o.Now}
}

// Init starts the loops of the first generation.
func (m Model) Init() tea.Cmd { return m.loops() }

// adminList reports whether the view is the list of every workspace.
func (m Model) adminList() bool { return m.admin && !m.drilled }

// loops starts the current generation's watch (or admin polling), tick
// and first reads.
func (m Model) loops() tea.Cmd {
	if m.adminList() {
		return tea.Batch(fetchAdmin(m.gen, m.src), tick(m.gen, m.opt.Tick))
	}
	return tea.Batch(startWatch(m.gen, m.src), fetchTasks(m.gen, m.src), fetchAlerts(m.gen, m.src), fetchUsage(m.gen, m.src), tick(m.gen, m.opt.Tick))
}

// restart ends the current generation (its watch is stopped outside
// Update) and starts the next.
func (m Model) restart() (Model, tea.Cmd) {
	m, stopCmd := m.halt()
	m.state = stateConnecting
	m.err = ""
	m.lastFetch, m.dirty = m.ticks, false
	return m, tea.Batch(stopCmd, m.loops())
}

// halt ends the current generation without starting another.
func (m Model) halt() (Model, tea.Cmd) {
	cmd := stop(m.cancel)
	m.gen++
	m.cancel, m.ch = nil, nil
	return m, cmd
}

// Update implements tea.Model. It is pure: the clock comes in tickMsg, data
// in the loop messages.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		return m, nil
	case tea.KeyMsg:
		return m.handleKey(msg)
	case watchStartedMsg:
		if msg.gen != m.gen {
			return m, stop(msg.cancel) // started for a generation that is over
		}
		m.ch, m.cancel = msg.ch, msg.cancel
		return m, nextUpdate(m.gen, m.ch)
	case updateMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		return m.applyUpdate(msg)
	case tickMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		return m.applyTick(msg.at)
	case tasksMsg:
		if msg.gen == m.gen {
			m.tasks, m.workers, m.tasksErr = msg.tasks, msg.workers, errText(msg.err)
			if msg.err != nil {
				m.tasks = nil
			}
		}
		return m, nil
	case usageMsg:
		if msg.gen == m.gen {
			if msg.err != nil {
				m.todayErr = errText(msg.err)
			} else {
				u := msg.usage
				m.today, m.todayErr = &u, ""
			}
		}
		return m, nil
	case logStartedMsg:
		if msg.gen != m.logGen || m.logTask == "" {
			return m, stop(msg.cancel)
		}
		m.logCh, m.logCancel = msg.ch, msg.cancel
		return m, nextLog(m.logGen, m.logCh)
	case logMsg:
		if msg.gen != m.logGen || m.logTask == "" {
			return m, nil
		}
		switch {
		case msg.closed:
			m.logCh = nil
			if m.logState == "following" {
				m.logState = "stream closed"
			}
			return m, nil
		case msg.u.Event != nil:
			m.logLines = append(m.logLines, *msg.u.Event)
			if n := len(m.logLines); n > maxLogLines {
				m.logLines = slices.Clone(m.logLines[n-maxLogLines:])
			}
		case msg.u.Err != nil:
			m.logState = "stopped: " + errText(msg.u.Err)
		default:
			m.logState = "ended: " + msg.u.Final
		}
		return m, nextLog(m.logGen, m.logCh)
	case alertsMsg:
		if msg.gen == m.gen {
			m.alerts, m.alertErr = msg.alerts, errText(msg.err)
		}
		return m, nil
	case adminMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if msg.err != nil {
			m.state, m.err = stateDisconnected, msg.err.Error()
			return m, nil
		}
		m.state, m.err = statePolling, ""
		m.spaces = sortWorkspaces(msg.quotas)
		m.wsSel = clamp(m.wsSel, len(m.filteredSpaces()))
		return m, nil
	case detailMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if msg.err != nil {
			m.notice = "open task: " + errText(msg.err)
			return m, nil
		}
		m.detail, m.detailEvents = &msg.task, msg.events
		return m, nil
	case cancelledMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if msg.err != nil {
			m.notice = "cancel " + msg.id + ": " + errText(msg.err)
			return m, nil
		}
		m.notice = "cancelled " + msg.id
		for i, t := range m.tasks {
			if t.ID == msg.id {
				m.tasks[i] = msg.task
			}
		}
		return m, fetchTasks(m.gen, m.src)
	case sourceMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if msg.err != nil {
			m.state, m.err = stateDisconnected, msg.err.Error()
			return m, nil
		}
		m.src = msg.src
		m.lastFetch, m.dirty = m.ticks, false
		return m, m.loops()
	}
	return m, nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// applyUpdate takes one message of the watch and asks for the next.
func (m Model) applyUpdate(msg updateMsg) (tea.Model, tea.Cmd) {
	if msg.closed {
		m.state, m.ch = stateDisconnected, nil
		if m.err == "" {
			m.err = "the usage watch ended"
		}
		return m, nil
	}
	u := msg.u
	switch {
	case u.Err != nil:
		m.state, m.err = stateDisconnected, u.Err.Error()
	case u.State != "":
		m.state, m.err = u.State, ""
	}
	if u.Quota != nil {
		m = m.addSnapshot(*u.Quota)
	}
	return m, nextUpdate(m.gen, m.ch)
}

// addSnapshot makes q the current quota and records it for the sparkline.
func (m Model) addSnapshot(q api.Quota) Model {
	if m.quota != nil && (q.WorkspaceID != m.quota.WorkspaceID || q.Period != m.quota.Period) {
		m.history = nil // another workspace or a new period: the deltas restart
	}
	if m.quota == nil || changed(*m.quota, q) {
		m.dirty = true
	}
	m.quota = &q
	if q.At.After(m.now) {
		m.now = q.At
	}
	m.lastSeen = m.now
	vals := make(map[string]int64, len(q.Metrics))
	for _, x := range q.Metrics {
		vals[x.Name] = x.Used
	}
	h := append(m.history[:len(m.history):len(m.history)], sample{at: q.At, vals: vals})
	cut := 0
	for cut < len(h)-1 && (q.At.Sub(h[cut].at) > m.opt.Window || len(h)-cut > maxSamples) {
		cut++
	}
	m.history = h[cut:]
	return m
}

// changed reports whether b differs from a in anything but the API rate
// (and the time).
func changed(a, b api.Quota) bool {
	if a.WorkspaceID != b.WorkspaceID || a.Running != b.Running || a.Queued != b.Queued || a.Held != b.Held ||
		len(a.Metrics) != len(b.Metrics) {
		return true
	}
	for i, x := range a.Metrics {
		if x.Name != api.QuotaAPIRate && x != b.Metrics[i] {
			return true
		}
	}
	return false
}

// applyTick moves the clock and paces the reads.
func (m Model) applyTick(at time.Time) (tea.Model, tea.Cmd) {
	m.now = at
	m.ticks++
	cmds := []tea.Cmd{tick(m.gen, m.opt.Tick)}
	switch {
	case m.adminList():
		if m.ticks%m.opt.AdminTicks == 0 {
			cmds = append(cmds, fetchAdmin(m.gen, m.src))
		}
	default:
		since := m.ticks - m.lastFetch
		if (m.dirty && since >= m.opt.RefreshTicks) || since >= m.opt.IdleTicks {
			m.lastFetch, m.dirty = m.ticks, false
			cmds = append(cmds, fetchTasks(m.gen, m.src), fetchAlerts(m.gen, m.src), fetchUsage(m.gen, m.src))
		}
	}
	return m, tea.Batch(cmds...)
}
