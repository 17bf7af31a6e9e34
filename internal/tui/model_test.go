package tui

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/muesli/termenv"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// find runs cmd (and the commands of batches and sequences it returns,
// concurrently) until one yields a message of type T, failing after a
// deadline. Commands that block (ticks, watches) are abandoned.
func find[T tea.Msg](t *testing.T, cmd tea.Cmd) T {
	t.Helper()
	found := make(chan T, 1)
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			msg := c()
			if v, ok := msg.(T); ok {
				select {
				case found <- v:
				default:
				}
				return
			}
			if rv := reflect.ValueOf(msg); rv.Kind() == reflect.Slice && rv.Type().Elem() == reflect.TypeOf(tea.Cmd(nil)) {
				for i := range rv.Len() {
					run(rv.Index(i).Interface().(tea.Cmd))
				}
			}
		}()
	}
	run(cmd)
	select {
	case v := <-found:
		return v
	case <-time.After(5 * time.Second):
		var zero T
		t.Fatalf("no %T from the command within 5s", zero)
		return zero
	}
}

func press(s string) tea.KeyMsg {
	switch s {
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func update(m Model, msg tea.Msg) (Model, tea.Cmd) {
	next, cmd := m.Update(msg)
	return next.(Model), cmd
}

func newModel(src Source) Model {
	return New(Options{Source: src, Server: "http://x", Renderer: asciiRenderer(), Tick: time.Hour, Now: t0})
}

func TestSnapshotsAndStates(t *testing.T) {
	m := newModel(newFakeSource())
	if m.state != stateConnecting || !strings.Contains(m.View(), "waiting for the first snapshot") {
		t.Fatalf("initial state %q:\n%s", m.state, m.View())
	}
	m, cmd := update(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{State: client.WatchPolling}})
	if m.state != statePolling || cmd == nil {
		t.Fatalf("state %q, next read %v", m.state, cmd != nil)
	}
	q := quotaAt(t0, 81.25)
	m, _ = update(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q, State: client.WatchLive}})
	if m.quota == nil || m.quota.At != t0 || m.state != stateLive || len(m.history) != 1 {
		t.Fatalf("after a snapshot: quota %v state %q history %d", m.quota, m.state, len(m.history))
	}
	if v := m.View(); !strings.Contains(v, "40,625 / 50,000  81.2%") || !strings.Contains(v, "● live") {
		t.Fatalf("view:\n%s", v)
	}
	// Reconnecting, then the watch ends with an error: disconnected.
	m, _ = update(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{State: client.WatchReconnecting}})
	if !strings.Contains(m.View(), "reconnecting") {
		t.Fatalf("view:\n%s", m.View())
	}
	m, _ = update(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Err: errString("forbidden")}})
	m, cmd = update(m, updateMsg{gen: m.gen, closed: true})
	if m.state != stateDisconnected || cmd != nil || !strings.Contains(m.View(), "disconnected (p to reconnect): forbidden") {
		t.Fatalf("state %q cmd %v:\n%s", m.state, cmd != nil, m.View())
	}
	// p reconnects: a new generation.
	gen := m.gen
	m, cmd = update(m, press("p"))
	if m.gen != gen+1 || m.state != stateConnecting || m.paused || cmd == nil {
		t.Fatalf("after p: gen %d state %q paused %v", m.gen, m.state, m.paused)
	}
}

func TestStaleGenerationDropped(t *testing.T) {
	m := newModel(newFakeSource())
	old := m.gen
	m, _ = update(m, press("p")) // pause: generation over
	m, _ = update(m, press("p")) // resume: a new one
	if m.gen != old+2 {
		t.Fatalf("gen %d, want %d", m.gen, old+2)
	}
	q := quotaAt(t0, 50)
	for _, msg := range []tea.Msg{
		updateMsg{gen: old, u: client.QuotaUpdate{Quota: &q, State: client.WatchLive}},
		tickMsg{gen: old, at: t0.Add(time.Hour)},
		tasksMsg{gen: old, tasks: someTasks()},
		alertsMsg{gen: old, alerts: someAlerts()},
		adminMsg{gen: old, quotas: []api.Quota{q}},
	} {
		next, cmd := update(m, msg)
		if cmd != nil || next.quota != nil || next.now != t0 || next.tasks != nil || next.alerts != nil || next.spaces != nil || next.state != stateConnecting {
			t.Fatalf("%T of generation %d was not dropped", msg, old)
		}
	}
	// A watch started for an old generation is stopped at once.
	ctx, cancel := context.WithCancel(context.Background())
	next, cmd := update(m, watchStartedMsg{gen: old, ch: make(chan client.QuotaUpdate), cancel: cancel})
	if next.ch != nil || cmd == nil {
		t.Fatal("stale watch kept")
	}
	cmd()
	if ctx.Err() == nil {
		t.Fatal("stale watch not cancelled")
	}
	// The current generation's are taken.
	m, cmd = update(m, tickMsg{gen: m.gen, at: t0.Add(time.Minute)})
	if m.now != t0.Add(time.Minute) || cmd == nil {
		t.Fatalf("tick of the current generation: now %v", m.now)
	}
}

func TestPause(t *testing.T) {
	src := newFakeSource()
	m := newModel(src)
	started := find[watchStartedMsg](t, m.Init())
	m, cmd := update(m, started)
	if m.ch == nil || cmd == nil {
		t.Fatal("watch not taken")
	}
	q := quotaAt(t0, 40)
	src.updates <- client.QuotaUpdate{Quota: &q, State: client.WatchLive}
	m, _ = update(m, find[updateMsg](t, cmd))
	if m.quota == nil {
		t.Fatal("no snapshot")
	}

	m, cmd = update(m, press("p"))
	if !m.paused || m.ch != nil || !strings.Contains(m.View(), "‖ paused") || !strings.Contains(m.View(), "p resume") {
		t.Fatalf("not paused:\n%s", m.View())
	}
	cmd() // stops the watch: its channel closes
	for range started.ch {
	}
	// Keys still work while paused; a tick of the old loop does nothing.
	m, _ = update(m, press("tab"))
	if m.focus != paneRunning {
		t.Fatalf("focus %d", m.focus)
	}
	if _, cmd := update(m, tickMsg{gen: started.gen, at: t0}); cmd != nil {
		t.Fatal("old tick loop kept going while paused")
	}
	// Resume: a new watch.
	m, cmd = update(m, press("p"))
	next := find[watchStartedMsg](t, cmd)
	if m.paused || next.gen != m.gen || next.gen == started.gen {
		t.Fatalf("resume: paused %v, watch of gen %d (model %d)", m.paused, next.gen, m.gen)
	}
	next.cancel()
}

func TestKeys(t *testing.T) {
	m := loaded(80, 24, 50)
	// tab and shift+tab cycle the panes.
	for _, want := range []int{paneRunning, paneQueued, paneWaiting, paneAlerts, paneGauges} {
		m, _ = update(m, press("tab"))
		if m.focus != want {
			t.Fatalf("focus %d, want %d", m.focus, want)
		}
	}
	m, _ = update(m, tea.KeyMsg{Type: tea.KeyShiftTab})
	if m.focus != paneAlerts {
		t.Fatalf("shift+tab: focus %d", m.focus)
	}
	// up/down select a gauge, and the sparkline follows it.
	m.focus = paneGauges
	m, _ = update(m, press("down"))
	m, _ = update(m, press("j"))
	if m.sel[paneGauges] != 2 || !strings.Contains(m.View(), "spend rate, 5m") {
		t.Fatalf("gauge %d:\n%s", m.sel[paneGauges], m.View())
	}
	for range 10 {
		m, _ = update(m, press("down"))
	}
	if m.sel[paneGauges] != len(api.QuotaMetrics)-1 || !strings.Contains(m.View(), "queued, 5m") {
		t.Fatalf("clamped gauge %d", m.sel[paneGauges])
	}
	m, _ = update(m, press("up"))
	if m.sel[paneGauges] != len(api.QuotaMetrics)-2 {
		t.Fatalf("up: %d", m.sel[paneGauges])
	}
	// ? shows the full help and hides it again.
	m, _ = update(m, press("?"))
	if !m.help.ShowAll || !strings.Contains(m.View(), "previous pane") {
		t.Fatalf("full help:\n%s", m.View())
	}
	m, _ = update(m, press("?"))
	if m.help.ShowAll {
		t.Fatal("help still full")
	}
	// / filters the tasks; enter keeps the filter, esc clears it.
	m, _ = update(m, press("/"))
	for _, r := range "resx" {
		m, _ = update(m, press(string(r)))
	}
	m, _ = update(m, press("backspace"))
	if !m.filtering || m.focus != paneRunning || m.filter != "res" || len(m.paneTasks(paneRunning)) != 2 || len(m.paneTasks(paneQueued)) != 1 ||
		!strings.Contains(m.View(), "filter: res▏") || !strings.Contains(m.View(), "enter apply filter") {
		t.Fatalf("filtering %v focus %d filter %q:\n%s", m.filtering, m.focus, m.filter, m.View())
	}
	m, _ = update(m, press("q")) // typed into the filter, not quit
	m, _ = update(m, press("backspace"))
	m, _ = update(m, press("enter"))
	if m.filtering || m.filter != "res" || strings.Contains(m.View(), "email") {
		t.Fatalf("after enter: filtering %v filter %q:\n%s", m.filtering, m.filter, m.View())
	}
	m, _ = update(m, press("esc"))
	if m.filter != "" || len(m.paneTasks(paneRunning)) != 5 || len(m.paneTasks(paneQueued)) != 2 {
		t.Fatalf("esc kept filter %q", m.filter)
	}
	// q and ctrl+c quit.
	for _, k := range []string{"q", "ctrl+c"} {
		_, cmd := update(m, press(k))
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		find[tea.QuitMsg](t, cmd)
	}
}

func TestResize(t *testing.T) {
	m := loaded(80, 24, 62)
	m, cmd := update(m, tea.WindowSizeMsg{Width: 132, Height: 43})
	if cmd != nil || m.width != 132 || m.height != 43 {
		t.Fatalf("size %dx%d", m.width, m.height)
	}
	checkFrame(t, m.View(), 132, 43)
	if !strings.Contains(m.View(), "task_01jdq8a0b1c2d3e4f5g6h7j8k1") {
		t.Fatalf("a wide terminal shows whole ids:\n%s", m.View())
	}
}

func TestTickPacesReads(t *testing.T) {
	m := New(Options{Source: newFakeSource(), Renderer: asciiRenderer(), Tick: time.Millisecond, RefreshTicks: 3, IdleTicks: 10, Now: t0})
	// tickAt sends tick i and reports whether it read tasks and alerts.
	tickAt := func(i int) bool {
		t.Helper()
		var cmd tea.Cmd
		m, cmd = update(m, tickMsg{gen: m.gen, at: t0.Add(time.Duration(i) * time.Second)})
		msg := cmd() // a lone tick (1 ms), or a batch that returns at once
		if next, ok := msg.(tickMsg); ok {
			if next.gen != m.gen {
				t.Fatalf("tick %d scheduled %#v", i, msg)
			}
			return false
		}
		if _, ok := msg.(tea.BatchMsg); !ok {
			t.Fatalf("tick %d: %T", i, msg)
		}
		find[tasksMsg](t, cmd)
		find[alertsMsg](t, cmd)
		return true
	}
	// Nothing changed: no reads until the idle refresh.
	for i := 1; i <= 10; i++ {
		if read := tickAt(i); read != (i == 10) {
			t.Fatalf("tick %d read %v", i, read)
		}
	}
	if m.now != t0.Add(10*time.Second) {
		t.Fatalf("now %v", m.now)
	}
	// A snapshot whose API rate moved (the monitor's own reads) is no reason to read.
	q := quotaAt(t0, 50)
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q}})
	q2 := q
	q2.Metrics = append([]api.QuotaMetric(nil), q.Metrics...)
	q2.Metrics[3].Used++
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q2}})
	m.dirty = false // the first snapshot counts as a change; start clean
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q2}})
	for i := 11; i <= 14; i++ {
		if tickAt(i) {
			t.Fatalf("tick %d read after an API-rate-only change", i)
		}
	}
	// A real change: read, at most every RefreshTicks ticks.
	q3 := quotaAt(t0.Add(time.Second), 51)
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q3}})
	if !tickAt(15) {
		t.Fatal("no read after a change")
	}
	q4 := quotaAt(t0.Add(2*time.Second), 52)
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q4}})
	if tickAt(16) || tickAt(17) || !tickAt(18) {
		t.Fatal("reads not paced by RefreshTicks")
	}
}

// adminModel is the operator's list of three workspaces.
func adminModel(w, h int) Model {
	src := newFakeSource()
	a, b, c := quotaAt(t0, 30), quotaAt(t0, 95), quotaAt(t0, 120)
	a.WorkspaceID, a.WorkspaceName = "ws_01jdq7k3x9m2v5n8p4r6t0aaaa", "alpha"
	b.WorkspaceID, b.WorkspaceName = "ws_01jdq7k3x9m2v5n8p4r6t0bbbb", "bravo"
	c.WorkspaceID, c.WorkspaceName, c.Tier = "ws_01jdq7k3x9m2v5n8p4r6t0cccc", "charlie", "free"
	src.spaces = []api.Quota{a, b, c}
	m := New(Options{Source: src, Server: "http://127.0.0.1:7070", Profile: "ops", Admin: true, Renderer: asciiRenderer(), Tick: time.Hour, Now: t0})
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h})
	return send(m, adminMsg{gen: m.gen, quotas: src.spaces})
}

func TestAdminDrillIn(t *testing.T) {
	m := adminModel(80, 24)
	src := m.root.(*fakeSource)
	if got := []string{m.spaces[0].WorkspaceName, m.spaces[1].WorkspaceName, m.spaces[2].WorkspaceName}; got[0] != "charlie" || got[1] != "bravo" || got[2] != "alpha" {
		t.Fatalf("order %v, want highest percent first", got)
	}
	golden(t, "admin_80x24", m.View()+"\n")
	// Filter to one workspace, then open it.
	m, _ = update(m, press("/"))
	m, _ = update(m, press("br"))
	m, _ = update(m, press("enter"))
	if len(m.filteredSpaces()) != 1 {
		t.Fatalf("filter %q matched %d", m.filter, len(m.filteredSpaces()))
	}
	gen := m.gen
	m, cmd := update(m, press("enter"))
	if !m.drilled || m.drillID != "ws_01jdq7k3x9m2v5n8p4r6t0bbbb" || m.gen != gen+1 || m.filter != "" {
		t.Fatalf("drilled %v into %q gen %d", m.drilled, m.drillID, m.gen)
	}
	opened := find[sourceMsg](t, cmd)
	if len(src.opened) != 1 || src.opened[0] != m.drillID {
		t.Fatalf("opened %v", src.opened)
	}
	m, cmd = update(m, opened)
	started := find[watchStartedMsg](t, cmd)
	m, _ = update(m, started)
	if !strings.Contains(m.View(), "‹ esc") {
		t.Fatalf("drilled view:\n%s", m.View())
	}
	// The list's reads of the old generation are ignored now.
	if next, _ := update(m, adminMsg{gen: gen, quotas: nil}); next.spaces == nil {
		t.Fatal("stale admin list taken")
	}
	// esc goes back and stops the workspace's watch.
	m, cmd = update(m, press("esc"))
	if m.drilled || m.src != m.root || m.gen != gen+2 {
		t.Fatalf("esc: drilled %v gen %d", m.drilled, m.gen)
	}
	find[adminMsg](t, cmd)
	for range started.ch { // closed by the stop in cmd
	}
}

func TestSparklineSeries(t *testing.T) {
	h := []sample{
		{at: t0.Add(-4 * time.Minute), vals: map[string]int64{api.QuotaTaskExecutions: 10, api.QuotaConcurrency: 1}},
		{at: t0.Add(-3 * time.Minute), vals: map[string]int64{api.QuotaTaskExecutions: 10, api.QuotaConcurrency: 4}},
		{at: t0.Add(-2 * time.Minute), vals: map[string]int64{api.QuotaTaskExecutions: 16, api.QuotaConcurrency: 2}},
		{at: t0, vals: map[string]int64{api.QuotaTaskExecutions: 20, api.QuotaConcurrency: 0}},
	}
	cols, last := series(h, api.QuotaTaskExecutions, 5*time.Minute, 5, t0)
	// One column a minute: no data before the first sample, then no
	// change, +6 in a minute, +4 spread over two.
	if got := sparkline(cols); got != " ▁█▃▃" || last != 2 {
		t.Fatalf("executions: %q %v last %v", got, cols, last)
	}
	cols, last = series(h, api.QuotaConcurrency, 5*time.Minute, 5, t0)
	// A level: the value at each column's end.
	if got := sparkline(cols); got != " █▄▄▁" || last != 0 {
		t.Fatalf("concurrency: %q %v last %v", got, cols, last)
	}
	if got := sparkline([]float64{0, 1, 2, 3, 4, 5, 6, 7, 8}); got != "▁▁▂▃▄▅▆▇█" {
		t.Fatalf("ramp %q", got)
	}
}

func TestGaugeLevels(t *testing.T) {
	for p, want := range map[float64]int{0: levelOK, 79.9: levelOK, 80: levelWarn, 99.9: levelWarn, 100: levelCrit, 250: levelCrit} {
		if got := level(p); got != want {
			t.Errorf("level(%v) = %d, want %d", p, got, want)
		}
	}
	for p, want := range map[float64]string{100: "", 100.2: "▲+1%", 112: "▲+12%", 250: "▲+150%"} {
		if got := overflow(p); got != want {
			t.Errorf("overflow(%v) = %q, want %q", p, got, want)
		}
	}
}

func TestStaleWhilePolling(t *testing.T) {
	m := newModel(newFakeSource())
	q := quotaAt(t0, 10)
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q, State: client.WatchPolling}})
	m = send(m, tickMsg{gen: m.gen, at: t0.Add(10 * time.Second)})
	if strings.Contains(m.View(), "no update") {
		t.Fatalf("stale too soon:\n%s", m.View())
	}
	m = send(m, tickMsg{gen: m.gen, at: t0.Add(75 * time.Second)})
	if !strings.Contains(m.View(), "● polling (no update for 1m 15s)") {
		t.Fatalf("not marked stale:\n%s", m.View())
	}
	// A live stream sends only on change: silence is not staleness.
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{State: client.WatchLive}})
	if strings.Contains(m.View(), "no update") {
		t.Fatalf("live marked stale:\n%s", m.View())
	}
}

func TestGaugeColours(t *testing.T) {
	r := asciiRenderer()
	r.SetColorProfile(termenv.ANSI256)
	m := New(Options{Renderer: r, Now: t0})
	q := quotaAt(t0, 85) // executions 85 % (amber), spend 68 % (green)
	q.Metrics[1] = gauge(api.QuotaExecutionSeconds, 200_000, 180_000)
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q}})
	lines := strings.Split(m.View(), "\n")
	for i, want := range map[int]int{3: levelWarn, 4: levelCrit, 5: levelOK} {
		code := strings.TrimSuffix(m.styles.Level[want].Render("x"), "x\x1b[0m")
		if !strings.HasPrefix(code, "\x1b[") || code == strings.TrimSuffix(m.styles.Level[(want+1)%3].Render("x"), "x\x1b[0m") {
			t.Fatalf("level %d has no distinct colour: %q", want, code)
		}
		if !strings.Contains(lines[i], code) {
			t.Errorf("line %d %q lacks the colour %q", i, lines[i], code)
		}
	}
	if !strings.Contains(lines[4], "▲+11%") {
		t.Errorf("no overflow mark: %q", lines[4])
	}
}
