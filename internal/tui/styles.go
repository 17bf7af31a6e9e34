package tui

import (
	"github.com/charmbracelet/lipgloss"
)

// Gauge levels: green below 80 %, amber from 80 %, red at 100 % and past it.
const (
	levelOK = iota
	levelWarn
	levelCrit
)

// Thresholds of the gauge levels, in percent.
const (
	warnPercent = 80
	critPercent = 100
)

// level is the gauge level of percent.
func level(percent float64) int {
	switch {
	case percent >= critPercent:
		return levelCrit
	case percent >= warnPercent:
		return levelWarn
	}
	return levelOK
}

// Styles are the lipgloss styles of the view, made from one renderer so
// that tests can fix the colour profile (termenv.Ascii renders no escape
// codes at all).
type Styles struct {
	Title    lipgloss.Style
	Dim      lipgloss.Style
	Label    lipgloss.Style
	Level    [3]lipgloss.Style // levelOK, levelWarn, levelCrit
	Empty    lipgloss.Style    // the unfilled part of a gauge
	Pane     lipgloss.Style    // title of an unfocused pane
	Focused  lipgloss.Style    // title of the focused pane
	Selected lipgloss.Style    // the selected row
	State    map[string]lipgloss.Style
	HelpKey  lipgloss.Style
	HelpDesc lipgloss.Style
	HelpSep  lipgloss.Style
	Error    lipgloss.Style
}

// NewStyles returns the styles for r (nil: lipgloss's default renderer,
// which detects the terminal's colours).
func NewStyles(r *lipgloss.Renderer) Styles {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	green := lipgloss.AdaptiveColor{Light: "#1A7F37", Dark: "#3FB950"}
	amber := lipgloss.AdaptiveColor{Light: "#9A6700", Dark: "#D29922"}
	red := lipgloss.AdaptiveColor{Light: "#CF222E", Dark: "#F85149"}
	dim := lipgloss.AdaptiveColor{Light: "#6E7781", Dark: "#8B949E"}
	return Styles{
		Title:    r.NewStyle().Bold(true),
		Dim:      r.NewStyle().Foreground(dim),
		Label:    r.NewStyle(),
		Level:    [3]lipgloss.Style{r.NewStyle().Foreground(green), r.NewStyle().Foreground(amber), r.NewStyle().Foreground(red).Bold(true)},
		Empty:    r.NewStyle().Foreground(dim),
		Pane:     r.NewStyle().Bold(true).Foreground(dim),
		Focused:  r.NewStyle().Bold(true).Underline(true),
		Selected: r.NewStyle().Reverse(true),
		State: map[string]lipgloss.Style{
			stateLive:         r.NewStyle().Foreground(green),
			stateReconnecting: r.NewStyle().Foreground(amber),
			statePolling:      r.NewStyle().Foreground(amber),
			stateDisconnected: r.NewStyle().Foreground(red).Bold(true),
			stateConnecting:   r.NewStyle().Foreground(dim),
			statePaused:       r.NewStyle().Foreground(amber).Bold(true),
		},
		HelpKey:  r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "#57606A", Dark: "#C9D1D9"}),
		HelpDesc: r.NewStyle().Foreground(dim),
		HelpSep:  r.NewStyle().Foreground(dim),
		Error:    r.NewStyle().Foreground(red),
	}
}

// state renders a connection state in its colour.
func (s Styles) state(name string) string {
	if st, ok := s.State[name]; ok {
		return st.Render(name)
	}
	return name
}
