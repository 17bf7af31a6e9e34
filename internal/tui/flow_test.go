package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// program runs the monitor on src at w×h under teatest, with the clock
// fixed at t0 (no ticks), and waits for its first snapshot and tasks.
func program(t *testing.T, src *fakeSource, w, h int) *teatest.TestModel {
	t.Helper()
	m := New(Options{Source: src, Server: "http://127.0.0.1:7070", Profile: "default", Renderer: asciiRenderer(), Tick: time.Hour, Now: t0})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	q := quotaAt(t0, 62)
	src.updates <- client.QuotaUpdate{Quota: &q, State: client.WatchLive}
	waitFor(t, tm, "31,000 / 50,000", "Waiting · 2", "today 477")
	return tm
}

// waitFor waits until the program's output has shown every one of subs.
func waitFor(t *testing.T, tm *teatest.TestModel, subs ...string) {
	t.Helper()
	seen := map[string]bool{}
	var mu sync.Mutex
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range subs {
			if bytes.Contains(b, []byte(s)) {
				seen[s] = true
			}
		}
		return len(seen) == len(subs)
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
}

func typeKeys(tm *teatest.TestModel, keys ...string) {
	for _, k := range keys {
		tm.Send(press(k))
	}
}

// final quits the program and returns its last model.
func final(t *testing.T, tm *teatest.TestModel) Model {
	t.Helper()
	tm.Send(tea.KeyMsg{Type: tea.KeyCtrlC})
	return tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(Model)
}

var sizes = [][2]int{{80, 24}, {120, 40}}

// TestTopFilter (issue 16 row 6): `/` then text filters the three task lists
// by id, queue, status, status reason or label, end to end through the
// program; enter keeps the filter, esc clears it.
func TestTopFilter(t *testing.T) {
	for _, size := range sizes {
		t.Run(sizeName(size[0], size[1]), func(t *testing.T) {
			src := newFakeSource()
			tm := program(t, src, size[0], size[1])
			typeKeys(tm, "/", "g", "l", "o", "b", "e", "x", "enter") // a label value
			waitFor(t, tm, "filter: globex")
			m := final(t, tm)
			if m.filtering || m.filter != "globex" || len(m.paneTasks(paneRunning)) != 0 || len(m.paneTasks(paneQueued)) != 0 ||
				len(m.waitingTasks()) != 1 || m.waitingTasks()[0].ID != "task_01jdq8a0b1c2d3e4f5g6h7j8m1" {
				t.Fatalf("filter %q: running %v queued %v waiting %v", m.filter, m.paneTasks(paneRunning), m.paneTasks(paneQueued), m.waitingTasks())
			}
			v := m.View()
			checkFrame(t, v, size[0], size[1])
			golden(t, "filter_"+sizeName(size[0], size[1]), v+"\n")
		})
	}
	// Each field matches, in any case.
	m := loaded(120, 40, 62)
	for filter, want := range map[string][3]int{
		"RESEARCH": {2, 1, 1}, "held": {0, 1, 0}, "k5": {1, 0, 0}, "budget": {0, 0, 1}, "customer=globex": {0, 0, 1}, "running": {2, 0, 0},
		"queued": {0, 2, 0}, "nothing": {0, 0, 0},
	} {
		m.filter = filter
		if got := [3]int{len(m.paneTasks(paneRunning)), len(m.paneTasks(paneQueued)), len(m.waitingTasks())}; got != want {
			t.Errorf("filter %q: %v running, queued and waiting, want %v", filter, got, want)
		}
	}
	m.filter = "nothing"
	if v := m.View(); !strings.Contains(v, "no running or recently finished tasks") || !strings.Contains(v, "no queued or held tasks") ||
		!strings.Contains(v, "no waiting tasks") {
		t.Errorf("empty lists:\n%s", v)
	}
}

// TestTopFullHelp (issue 16 row 6): `?` shows every binding in columns
// (help.Model's FullHelp), fitted to the terminal; `?` again hides it.
func TestTopFullHelp(t *testing.T) {
	for _, size := range sizes {
		t.Run(sizeName(size[0], size[1]), func(t *testing.T) {
			tm := program(t, newFakeSource(), size[0], size[1])
			typeKeys(tm, "?")
			waitFor(t, tm, "previous pane", "follow logs", "cancel task")
			m := final(t, tm)
			v := m.View()
			checkFrame(t, v, size[0], size[1])
			golden(t, "help_"+sizeName(size[0], size[1]), v+"\n")
			for _, b := range []string{"↑/k", "↓/j", "tab", "shift+tab", "/", "p", "enter", "esc", "l", "c", "?", "q"} {
				if !strings.Contains(v, b+" ") {
					t.Errorf("full help lacks %q", b)
				}
			}
			m, _ = update(m, press("?"))
			if m.help.ShowAll || strings.Contains(m.View(), "previous pane") {
				t.Errorf("? did not hide the help")
			}
		})
	}
}

// logEvent is log line seq of attempt 1.
func logEvent(seq int64, msg string) LogUpdate {
	return LogUpdate{Event: &api.TaskEvent{Seq: seq, Type: api.EventLog, Attempt: 1, Message: msg, At: t0.Add(time.Duration(seq) * time.Second)}}
}

// TestTopFollowLogs (issue 16 row 6): `l` on a task follows its log lines
// live in a pane (state changes are left out), the newest at the bottom;
// the end of the task is said; quitting stops the stream.
func TestTopFollowLogs(t *testing.T) {
	for _, size := range sizes {
		t.Run(sizeName(size[0], size[1]), func(t *testing.T) {
			src := newFakeSource()
			tm := program(t, src, size[0], size[1])
			typeKeys(tm, "tab", "l")
			waitFor(t, tm, "Logs task_01jdq8a0b1c2d3e4f5g6h7j8k1", "no log lines yet")
			for i := int64(1); i <= 30; i++ {
				src.logs <- logEvent(i, fmt.Sprintf("step %d of 30: reading page %d", i, i*7))
				if i == 15 {
					src.logs <- LogUpdate{Event: &api.TaskEvent{Seq: 99, Type: api.EventState, Status: api.TaskRunning, At: t0}}
				}
			}
			waitFor(t, tm, "step 30 of 30")
			src.logs <- LogUpdate{Final: api.TaskSucceeded}
			waitFor(t, tm, "ended: succeeded")
			m := final(t, tm)
			v := m.View()
			checkFrame(t, v, size[0], size[1])
			golden(t, "logs_"+sizeName(size[0], size[1]), v+"\n")
			if follows, _ := src.followCounts(); len(follows) != 1 || follows[0] != "task_01jdq8a0b1c2d3e4f5g6h7j8k1" {
				t.Fatalf("followed %v", follows)
			}
			if strings.Contains(v, "==>") || strings.Contains(v, "step 1 of 30") {
				t.Errorf("not the tail of the log lines:\n%s", v)
			}
		})
	}
}

// Esc closes the log pane and stops its stream; what the closed stream
// still had in flight is dropped; `l` from an opened task and from the
// waiting pane follows that task.
func TestLogPaneCloses(t *testing.T) {
	src := newFakeSource()
	m := sized(t, newModel(src), 120, 40)
	m, _ = update(m, press("tab"))
	m, cmd := update(m, press("l"))
	started := find[logStartedMsg](t, cmd)
	m, cmd = update(m, started)
	src.logs <- logEvent(1, "hello")
	m, _ = update(m, find[logMsg](t, cmd))
	if !strings.Contains(m.View(), "[1] hello") || !strings.Contains(m.View(), "● following") {
		t.Fatalf("log pane:\n%s", m.View())
	}
	old := m.logGen
	m, cmd = update(m, press("esc"))
	if m.logTask != "" || strings.Contains(m.View(), "Logs task_") || !strings.Contains(m.View(), "Running ·") {
		t.Fatalf("esc:\n%s", m.View())
	}
	if cmd != nil {
		cmd() // the stop
	}
	testutil.Eventually(t, 5*time.Second, "the follow stops on esc", func() bool { _, stopped := src.followCounts(); return stopped == 1 })
	m, _ = update(m, logMsg{gen: old, u: logEvent(2, "late")})
	if len(m.logLines) != 0 {
		t.Fatalf("a closed stream's line was kept: %v", m.logLines)
	}

	// From the waiting pane: enter opens the task, l follows it.
	m, _ = update(m, press("tab"))
	m, _ = update(m, press("tab")) // running → queued/held → waiting
	if m.focus != paneWaiting {
		t.Fatalf("focus %d", m.focus)
	}
	m, _ = update(m, press("down"))
	m, cmd = update(m, press("enter"))
	m, _ = update(m, find[detailMsg](t, cmd))
	if m.detail == nil || m.detail.ID != "task_01jdq8a0b1c2d3e4f5g6h7j8m2" || !strings.Contains(m.View(), "waiting (budget)") {
		t.Fatalf("detail of a waiting task: %+v\n%s", m.detail, m.View())
	}
	m, cmd = update(m, press("l"))
	if m.logTask != "task_01jdq8a0b1c2d3e4f5g6h7j8m2" || m.detail != nil {
		t.Fatalf("l from the detail: log %q", m.logTask)
	}
	find[logStartedMsg](t, cmd)
	if follows, _ := src.followCounts(); len(follows) != 2 || follows[1] != "task_01jdq8a0b1c2d3e4f5g6h7j8m2" {
		t.Fatalf("followed %v", follows)
	}
}

// TestWaitingPane (issue 16 row 6): waiting tasks have a pane of their own,
// with their attempt, age and status_reason, at 80×24 and 120×40 (the goldens of
// TestViewGolden show it too).
func TestWaitingPane(t *testing.T) {
	for _, size := range sizes {
		m := loaded(size[0], size[1], 62)
		m.focus = paneWaiting
		v := m.View()
		golden(t, "waiting_"+sizeName(size[0], size[1]), v+"\n")
		if !strings.Contains(v, "▸ Waiting · 2") || !strings.Contains(v, "task_01jdq8a0b1c2d3e4f5g6h7j8m1 research   1/3   25m00s signal approval") {
			t.Errorf("%s:\n%s", sizeName(size[0], size[1]), v)
		}
		if strings.Contains(strings.Split(v, "Waiting")[0], "task_01jdq8a0b1c2d3e4f5g6h7j8m1") {
			t.Errorf("a waiting task in the running or queued pane:\n%s", v)
		}
	}
}

// TestTodaySparkline (issue 16 row 6): before any snapshot, the day's
// usage by hour from GET /v1/usage is drawn, for the selected gauge.
func TestTodaySparkline(t *testing.T) {
	m := newModel(newFakeSource())
	m, _ = update(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if !strings.Contains(m.View(), "reading /v1/usage…") {
		t.Fatalf("before the read:\n%s", m.View())
	}
	m, _ = update(m, usageMsg{gen: m.gen, usage: someUsage()})
	if v := m.View(); !strings.Contains(v, "executions, today/h ▁▁▁▁▁▁▁▂▃▅▆▆▄▆██▇▅▃▂▂▂▁  today 477") {
		t.Fatalf("no history:\n%s", v)
	}
	m, _ = update(m, press("down"))
	m, _ = update(m, press("down")) // spend
	if v := m.View(); !strings.Contains(v, "spend, today/h") || !strings.Contains(v, "today $1.91") {
		t.Fatalf("spend:\n%s", v)
	}
	m.sel[paneGauges] = 4 // concurrency: a level, no history
	if v := m.View(); !strings.Contains(v, "no hourly history for this gauge") {
		t.Fatalf("concurrency:\n%s", v)
	}
	m, _ = update(m, usageMsg{gen: m.gen, err: errString("forbidden")})
	m.sel[paneGauges] = 0
	if v := m.View(); !strings.Contains(v, "today 477") {
		t.Fatalf("a failed re-read dropped the history:\n%s", v)
	}
}

// TestReconnectingClears (issue 16 row 6): the header says reconnecting
// (and, after a while, for how long) while the stream is down, and says
// live again, with nothing else, once it is back.
func TestReconnectingClears(t *testing.T) {
	m := newModel(newFakeSource())
	q := quotaAt(t0, 10)
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{Quota: &q, State: client.WatchLive}},
		updateMsg{gen: m.gen, u: client.QuotaUpdate{State: client.WatchReconnecting}},
		tickMsg{gen: m.gen, at: t0.Add(40 * time.Second)})
	if v := m.View(); !strings.Contains(v, "● reconnecting (no update for 0m 40s)") {
		t.Fatalf("down:\n%s", v)
	}
	m = send(m, updateMsg{gen: m.gen, u: client.QuotaUpdate{State: client.WatchLive}})
	head := strings.SplitN(m.View(), "\n", 2)[0]
	if !strings.HasSuffix(head, "● live") || strings.Contains(m.View(), "reconnecting") || strings.Contains(m.View(), "no update") {
		t.Fatalf("back:\n%s", m.View())
	}

	// The same through the program and a watch that drops and comes back.
	src := newFakeSource()
	tm := program(t, src, 80, 24)
	src.updates <- client.QuotaUpdate{State: client.WatchReconnecting}
	waitFor(t, tm, "reconnecting")
	q2 := quotaAt(t0.Add(time.Second), 63)
	src.updates <- client.QuotaUpdate{State: client.WatchLive}
	src.updates <- client.QuotaUpdate{Quota: &q2, State: client.WatchLive}
	waitFor(t, tm, "31,500 / 50,000")
	fm := final(t, tm)
	if fm.state != stateLive || strings.Contains(fm.View(), "reconnecting") {
		t.Fatalf("state %q:\n%s", fm.state, fm.View())
	}
}

// TestClientSourceWaitingAndUsage: the ClientSource lists waiting tasks
// by the status "waiting" (an older server's 400 to it means none), and
// reads the day's usage by hour from midnight UTC.
func TestClientSourceWaitingAndUsage(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	refuseWaiting := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Path+"?"+r.URL.RawQuery)
		refuse := refuseWaiting
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v1/usage":
			_ = json.NewEncoder(w).Encode(someUsage())
		case r.URL.Query().Get("status") == "waiting" && refuse:
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(api.NewProblem(api.CodeInvalidRequest, "unknown status"))
		case r.URL.Query().Get("status") != "":
			st := r.URL.Query().Get("status")
			_ = json.NewEncoder(w).Encode(api.List[api.Task]{Data: []api.Task{{ID: "task_" + st, Status: st}}})
		default:
			_ = json.NewEncoder(w).Encode(api.List[api.Task]{Data: []api.Task{{ID: "task_done", Status: api.TaskSucceeded}}})
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithRetry(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	src := &ClientSource{Client: c}
	tasks, err := src.Tasks(t.Context())
	ids := func(ts []api.Task) string {
		var s []string
		for _, x := range ts {
			s = append(s, x.ID)
		}
		return strings.Join(s, " ")
	}
	if err != nil || ids(tasks) != "task_running task_queued task_waiting task_done" {
		t.Fatalf("Tasks = %s, %v", ids(tasks), err)
	}
	mu.Lock()
	refuseWaiting = true
	mu.Unlock()
	if tasks, err = src.Tasks(t.Context()); err != nil || ids(tasks) != "task_running task_queued task_done" {
		t.Fatalf("Tasks from an older server = %s, %v", ids(tasks), err)
	}
	u, err := src.UsageToday(t.Context())
	if err != nil || len(u.Series[api.MetricTaskExecutions]) != 22 {
		t.Fatalf("UsageToday = %+v, %v", u, err)
	}
	mu.Lock()
	last := queries[len(queries)-1]
	mu.Unlock()
	day := time.Now().UTC().Format("2006-01-02")
	if !strings.Contains(last, "granularity=hour") || !strings.Contains(last, "from="+day+"T00%3A00%3A00Z") {
		t.Fatalf("usage query %s", last)
	}
}
