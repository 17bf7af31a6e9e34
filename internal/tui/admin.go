package tui

import (
	"fmt"
	"strconv"

	"github.com/genericcorp/baton/pkg/api"
)

// adminView is the operator's list of every workspace, closest to a limit
// first.
func (m Model) adminView(w, h int) []string {
	spaces := m.filteredSpaces()
	sub := fmt.Sprintf("%d workspaces, closest to a limit first", len(m.spaces))
	if m.filtering || m.filter != "" {
		sub += " · filter: " + m.filter
		if m.filtering {
			sub += "▏"
		}
	}
	lines := []string{m.titleLine(w), sub, m.noticeLine()}

	const nw, tw, pw, rw, qw = 15, 5, 6, 6, 7
	withID := w >= sideBySide
	cells := func(mark, id, name, tier, maxp, exec, secs, spend, rate, run, queued string) string {
		s := mark + padRight(name, nw) + " "
		if withID {
			s += padRight(id, 31) + " "
		}
		return s + padRight(tier, tw) + " " + padLeft(maxp, pw) + " " + padLeft(exec, pw) + " " + padLeft(secs, pw) + " " +
			padLeft(spend, pw) + " " + padLeft(rate, pw) + " " + padLeft(run, rw) + " " + padLeft(queued, qw)
	}
	lines = append(lines, m.styles.Dim.Render(cells("  ", "ID", "WORKSPACE", "TIER", "MAX", "EXEC", "TIME", "SPEND", "RATE", "RUN", "QUEUED")))
	if len(spaces) == 0 {
		msg := "no workspaces yet"
		if m.filter != "" {
			msg = "no workspace matches the filter"
		}
		lines = append(lines, "  "+m.styles.Dim.Render(msg))
	}
	rows := h - len(lines)
	sel := clamp(m.wsSel, len(spaces))
	from := window(sel, len(spaces), rows)
	for i := from; i < len(spaces) && i < from+rows; i++ {
		q := spaces[i]
		mark := "  "
		if i == sel {
			mark = "▸ "
		}
		name := q.WorkspaceName
		if name == "" {
			name = q.WorkspaceID
		}
		run, _ := q.Metric(api.QuotaConcurrency)
		line := cells(mark, q.WorkspaceID, name, q.Tier, m.pct(q.MaxPercent()),
			m.metricPct(q, api.QuotaTaskExecutions), m.metricPct(q, api.QuotaExecutionSeconds),
			m.metricPct(q, api.QuotaSpend), m.metricPct(q, api.QuotaAPIRate),
			strconv.FormatInt(q.Running, 10)+"/"+strconv.FormatInt(run.Limit, 10), thousands(q.Queued))
		if i == sel {
			line = m.styles.Selected.Render(line)
		}
		lines = append(lines, line)
	}
	return lines
}

// pct is a percent in its level's colour, with the overflow mark.
func (m Model) pct(p float64) string {
	s := strconv.FormatFloat(p, 'f', 0, 64) + "%"
	if p > critPercent {
		s = "▲" + s
	}
	return m.styles.Level[level(p)].Render(s)
}

// metricPct is the percent of one gauge of q ("-" when unlimited or absent).
func (m Model) metricPct(q api.Quota, name string) string {
	x, ok := q.Metric(name)
	if !ok || x.Unlimited {
		return "-"
	}
	return m.pct(x.Percent)
}
