package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/genericcorp/baton/pkg/api"
)

// Layout constants.
const (
	minWidth, minHeight = 80, 24
	sideBySide          = 110 // from this width tasks and alerts share a row
	labelWidth          = 14
	valueWidth          = 22
	maxBar              = 50
	maxSpark            = 60
	// minTasksWidth fits a whole task id (31 cells) and the other columns.
	minTasksWidth = 79
)

// View renders one whole frame: exactly height lines, none wider than
// width, so the terminal never wraps (bubbletea repaints whole frames on
// the alternate screen, so nothing flickers).
func (m Model) View() string {
	w, h := m.width, m.height
	if w <= 0 {
		w = minWidth
	}
	if h <= 0 {
		h = minHeight
	}
	helpLines := strings.Split(m.helpView(w), "\n")
	bodyH := max(h-len(helpLines), 0)
	var body []string
	if m.adminList() {
		body = m.adminView(w, bodyH)
	} else {
		body = m.workspaceView(w, bodyH)
	}
	lines := append(fit(body, bodyH), helpLines...)
	lines = lines[:min(len(lines), h)]
	for i, l := range lines {
		lines[i] = strings.TrimRight(cut(l, w), " ")
	}
	return strings.Join(lines, "\n")
}

// fit cuts or pads lines to exactly n.
func fit(lines []string, n int) []string {
	if len(lines) > n {
		return lines[:n]
	}
	for len(lines) < n {
		lines = append(lines, "")
	}
	return lines
}

// cut truncates s to w cells, ending with "…" when it had to cut.
func cut(s string, w int) string {
	if lipgloss.Width(s) <= w {
		return s
	}
	return ansi.Truncate(s, w, "…")
}

// padRight cuts or pads s to exactly w cells.
func padRight(s string, w int) string {
	s = cut(s, w)
	return s + strings.Repeat(" ", max(w-lipgloss.Width(s), 0))
}

// padLeft cuts or right-aligns s in w cells.
func padLeft(s string, w int) string {
	s = cut(s, w)
	return strings.Repeat(" ", max(w-lipgloss.Width(s), 0)) + s
}

// spread puts left and right on one line of w cells, cutting left first.
func spread(left, right string, w int) string {
	rw := lipgloss.Width(right)
	left = cut(left, max(w-rw-1, 0))
	return left + strings.Repeat(" ", max(w-lipgloss.Width(left)-rw, 1)) + right
}

// stateView is the connection state of the header.
func (m Model) stateView() string {
	if m.paused {
		return "‖ " + m.styles.state(statePaused)
	}
	mark := "●"
	switch m.state {
	case stateDisconnected:
		mark = "✕"
	case stateConnecting:
		mark = "○"
	}
	s := mark + " " + m.styles.state(m.state)
	// Polling or reconnecting without answers: say for how long.
	if m.quota != nil && m.state != stateLive && m.state != stateDisconnected {
		if age := m.now.Sub(m.lastSeen); age >= staleAfter {
			s += m.styles.Error.Render(" (no update for " + until(age) + ")")
		}
	}
	return s
}

// staleAfter is how long without a snapshot, while not live, makes the
// header say so.
const staleAfter = 15 * time.Second

// titleLine is the first header line.
func (m Model) titleLine(w int) string {
	t := m.styles.Title.Render("baton top")
	if m.admin {
		t += m.styles.Title.Render(" --all")
	}
	left := t + " · " + m.opt.Server
	if m.opt.Profile != "" {
		left += " · profile " + m.opt.Profile
	}
	return spread(left, m.stateView(), w)
}

// noticeLine is the third header line: an error, or what is held back.
func (m Model) noticeLine() string {
	if m.err != "" {
		s := m.err
		if m.state == stateDisconnected && !m.paused {
			s = "disconnected (p to reconnect): " + s
		}
		return m.styles.Error.Render(s)
	}
	if m.paused {
		return m.styles.Dim.Render("paused: the numbers are frozen · p to resume")
	}
	q := m.quota
	if q == nil {
		return ""
	}
	var parts []string
	if q.Status == "suspended" {
		parts = append(parts, "workspace suspended")
	}
	if len(q.Exceeded) > 0 {
		names := make([]string, len(q.Exceeded))
		for i, n := range q.Exceeded {
			names[i] = labelOf(n)
		}
		parts = append(parts, "used up: "+strings.Join(names, ", "))
	}
	if q.Held > 0 {
		parts = append(parts, fmt.Sprintf("%s tasks held", thousands(q.Held)))
	}
	if len(parts) == 0 {
		return ""
	}
	return m.styles.Level[levelCrit].Render(strings.Join(parts, " · "))
}

func labelOf(name string) string {
	if l, ok := gaugeLabel[name]; ok {
		return l
	}
	return name
}

// alertsNeed is how many lines the alerts pane shows all its alerts in at
// width w.
func (m Model) alertsNeed(w int) int {
	if m.alertErr != "" || len(m.alerts) == 0 {
		return 2
	}
	n := 1
	for _, a := range m.alerts {
		n += len(m.alertLines(a, "  ", w))
	}
	return n
}

// clock is the monitor's now: the last tick or snapshot.
func (m Model) clock() time.Time { return m.now }

// workspaceView is the monitor of one workspace: header, gauges,
// sparklines, then the running, queued/held and waiting tasks and the
// alerts, filling the terminal.
func (m Model) workspaceView(w, h int) []string {
	lines := []string{m.titleLine(w), m.workspaceLine(w), m.noticeLine()}
	lines = append(lines, m.gauges(w)...)
	lines = append(lines, m.sparkLine(w), m.todayLine(w))
	if h >= roomyHeight {
		lines = append(lines, "")
	}
	ph := h - len(lines)
	if ph < 2 {
		return lines
	}
	switch {
	case m.logTask != "":
		return append(lines, m.logPane(w, ph)...)
	case m.detail != nil:
		return append(lines, m.detailPane(w, ph)...)
	}
	if w >= sideBySide {
		// The task panes on the left, wide enough for whole ids; the
		// alerts on the right.
		tw := max(w*5/8, minTasksWidth)
		lists := []taskList{m.runningList(tw), m.queuedList(tw), m.waitingList(tw)}
		var left []string
		for i, ch := range share(ph, lists[0].need(), lists[1].need(), lists[2].need()) {
			left = append(left, m.render(lists[i], ch)...)
		}
		right := m.alertsPane(w-tw-2, ph)
		for i := range ph {
			lines = append(lines, padRight(left[i], tw)+"  "+right[i])
		}
		return lines
	}
	lists := []taskList{m.runningList(w), m.queuedList(w), m.waitingList(w)}
	hs := share(ph, lists[0].need(), lists[1].need(), lists[2].need(), m.alertsNeed(w))
	for i, l := range lists {
		lines = append(lines, m.render(l, hs[i])...)
	}
	return append(lines, m.alertsPane(w, hs[3])...)
}

// roomyHeight is the terminal height from which a blank line parts the
// sparklines from the panes.
const roomyHeight = 30

// share splits n lines between panes that need needs[i] lines each to
// show everything: first up to 2 each (a title and a first row), then one
// line at a time to each pane in turn that still needs more, so that a
// crowded pane never starves the others and a pane with more to show
// takes every line the rest leave (the terminal fills). Once every pane
// shows everything, a blank line parts each from the next, room allowing,
// and the rest pads the last one, so the panes stay together.
func share(n int, needs ...int) []int {
	out := make([]int, len(needs))
	for i, need := range needs {
		out[i] = min(need, 2, n)
		n -= out[i]
	}
	for grew := true; grew && n > 0; {
		grew = false
		for i, need := range needs {
			if n > 0 && out[i] < need {
				out[i]++
				n--
				grew = true
			}
		}
	}
	if n >= len(out)-1 {
		for i := range len(out) - 1 {
			out[i]++
			n--
		}
	}
	out[len(out)-1] += n
	return out
}

// workspaceLine is the second header line. When it is too wide, the
// period and then the tier give way, never the workspace id.
func (m Model) workspaceLine(w int) string {
	var s string
	q := m.quota
	switch {
	case q == nil && m.drilled:
		s = m.drillID + " · waiting for the first snapshot…"
	case q == nil:
		s = "waiting for the first snapshot…"
	default:
		reset := time.Duration(q.ResetsIn) * time.Second
		if !q.PeriodEnd.IsZero() && !m.clock().IsZero() {
			reset = q.PeriodEnd.Sub(m.clock())
		}
		name := ""
		if q.WorkspaceName != "" {
			name = m.styles.Title.Render(q.WorkspaceName) + " · "
		}
		back := ""
		if m.drilled {
			back = "‹ esc · "
		}
		for _, f := range []string{"tier %[1]s · period %[2]s · resets in %[3]s · %[4]s", "tier %[1]s · resets in %[3]s · %[4]s", "resets in %[3]s · %[4]s"} {
			s = name + fmt.Sprintf(f, q.Tier, q.Period, until(reset), q.WorkspaceID)
			if lipgloss.Width(back+s) <= w {
				break
			}
		}
	}
	if m.drilled {
		s = "‹ esc · " + s
	}
	return s
}

// gauges renders one line per limit.
func (m Model) gauges(w int) []string {
	bw := min(max(w-54, 10), maxBar)
	out := make([]string, 0, len(api.QuotaMetrics))
	for i, name := range api.QuotaMetrics {
		prefix := "  "
		if m.focus == paneGauges && m.sel[paneGauges] == i {
			prefix = "▸ "
		}
		label := padRight(gaugeLabel[name], labelWidth)
		var metric api.QuotaMetric
		ok := false
		if m.quota != nil {
			metric, ok = m.quota.Metric(name)
		}
		switch {
		case !ok:
			out = append(out, prefix+label+" "+m.styles.Empty.Render(strings.Repeat("░", bw))+" "+padLeft(m.styles.Dim.Render("n/a"), valueWidth))
		case metric.Unlimited:
			out = append(out, prefix+label+" "+m.styles.Empty.Render(strings.Repeat("·", bw))+" "+padLeft(usedOfLimit(metric), valueWidth)+" "+padLeft("-", 6))
		default:
			st := m.styles.Level[level(metric.Percent)]
			fill := int(min(max(metric.Percent, 0), 100)/100*float64(bw) + 0.5)
			if metric.Percent > 0 && fill == 0 {
				fill = 1
			}
			bar := st.Render(strings.Repeat("█", fill)) + m.styles.Empty.Render(strings.Repeat("░", bw-fill))
			line := prefix + label + " " + bar + " " + padLeft(usedOfLimit(metric), valueWidth) + " " + st.Render(padLeft(percent(metric.Percent), 6))
			if o := overflow(metric.Percent); o != "" {
				line += " " + st.Render(o)
			}
			out = append(out, line)
		}
	}
	return out
}

// sparkLine draws the recent rate (or level) of the selected gauge.
func (m Model) sparkLine(w int) string {
	name := api.QuotaMetrics[clamp(m.sel[paneGauges], len(api.QuotaMetrics))]
	title := gaugeLabel[name]
	if cumulative(name) {
		title += " rate"
	}
	title = fmt.Sprintf("  %-20s", title+", "+shortDur(m.opt.Window))
	n := min(max(w-lipgloss.Width(title)-20, 10), maxSpark)
	cols, last := series(m.history, name, m.opt.Window, n, m.clock())
	now := ""
	if len(m.history) > 0 {
		now = "now " + rateText(name, last)
	}
	return title + m.styles.Level[levelOK].Render(sparkline(cols)) + " " + m.styles.Dim.Render(now)
}

// todayLine draws the selected gauge's usage of the current UTC day by
// hour, from GET /v1/usage: what the monitor starts with, before its own
// snapshots fill the live line above.
func (m Model) todayLine(w int) string {
	name := api.QuotaMetrics[clamp(m.sel[paneGauges], len(api.QuotaMetrics))]
	title := fmt.Sprintf("  %-20s", gaugeLabel[name]+", today/h")
	metric, ok := hourlyMetric[name]
	switch {
	case !ok:
		return title + m.styles.Dim.Render("no hourly history for this gauge")
	case m.today == nil && m.todayErr != "":
		return title + m.styles.Dim.Render("history unavailable: "+m.todayErr)
	case m.today == nil:
		return title + m.styles.Dim.Render("reading /v1/usage…")
	}
	cols := make([]float64, 24)
	for i := range cols {
		cols[i] = math.NaN()
	}
	day := m.today.From.UTC().Truncate(24 * time.Hour)
	end := m.clock()
	var total int64
	for i := range cols {
		if h := day.Add(time.Duration(i) * time.Hour); end.IsZero() || !h.After(end) {
			cols[i] = 0
		}
	}
	for _, p := range m.today.Series[metric] {
		if i := int(p.Start.UTC().Sub(day) / time.Hour); i >= 0 && i < len(cols) {
			cols[i] = float64(p.Value)
			total += p.Value
		}
	}
	return title + m.styles.Level[levelOK].Render(sparkline(cols)) + " " + m.styles.Dim.Render("today "+usageText(metric, total))
}

// hourlyMetric maps a gauge to the usage metric of its hourly history.
var hourlyMetric = map[string]string{
	api.QuotaTaskExecutions:   api.MetricTaskExecutions,
	api.QuotaExecutionSeconds: api.MetricExecutionMS,
	api.QuotaSpend:            api.MetricCostMicros,
	api.QuotaAPIRate:          api.MetricAPICalls,
}

// usageText formats a usage metric's total in its unit.
func usageText(metric string, v int64) string {
	switch metric {
	case api.MetricExecutionMS:
		return until(time.Duration(v) * time.Millisecond)
	case api.MetricCostMicros:
		return dollars(v)
	}
	return thousands(v)
}

// shortDur formats a window: "5m", "90s", "1h".
func shortDur(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	if s == "" {
		return "0s"
	}
	return s
}

// helpView is the help bar (or the full help after `?`).
func (m Model) helpView(w int) string {
	h := m.help
	h.Width = w
	switch {
	case m.confirm != "":
		return cut(m.styles.Level[levelWarn].Render("Cancel task "+m.confirm+"? y to cancel, any other key keeps it"), w)
	case m.notice != "":
		return cut(m.notice, w)
	}
	if m.filtering {
		return h.View(filterKeyMap{m.keys})
	}
	k := m.keys
	if h.ShowAll {
		// The full help lists every binding, whatever has the focus.
		return h.View(k)
	}
	k.Enter.SetEnabled(m.adminList() || m.taskPane() || m.detail != nil)
	k.Logs.SetEnabled(!m.adminList() && (m.taskPane() || m.detail != nil || m.logTask != ""))
	k.Back.SetEnabled(m.drilled || m.filter != "" || m.detail != nil || m.logTask != "")
	if m.paused {
		k.Pause.SetHelp("p", "resume")
	}
	return h.View(k)
}
