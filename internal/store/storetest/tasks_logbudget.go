package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// testTaskLogBudget: a task stores log lines up to its budget, over all
// its attempts; past it lines are dropped and counted, one notice says so,
// and what was stored is a prefix of what was written.
func testTaskLogBudget(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	in := newTask(ws.ID)
	in.MaxAttempts = 2
	task := createTask(t, s, in)
	claim(t, s, params(ws.ID, t0))
	at := t0.Add(time.Second)
	// The budget in bytes, each line counting its newline.
	const budget = 20
	res, err := s.AppendLogs(ctx, ws.ID, task.ID, 1, []string{"12345", "67890"}, budget, at) // 12 bytes
	must(t, err, "AppendLogs")
	if res != (store.LogResult{Stored: 2}) {
		t.Errorf("first lines: %+v, want 2 stored", res)
	}
	// 6 more fit (18), then "abcd" (23) does not, and "z" after it is
	// dropped too, though it would fit.
	res, err = s.AppendLogs(ctx, ws.ID, task.ID, 1, []string{"12345", "abcd", "z"}, budget, at)
	must(t, err, "AppendLogs")
	if res != (store.LogResult{Stored: 1, Dropped: 2}) {
		t.Errorf("lines at the budget: %+v, want 1 stored 2 dropped", res)
	}
	res, err = s.AppendLogs(ctx, ws.ID, task.ID, 1, []string{"y"}, budget, at)
	must(t, err, "AppendLogs")
	if res != (store.LogResult{Dropped: 1}) {
		t.Errorf("lines past the budget: %+v, want 1 dropped", res)
	}
	got, err := s.GetTask(ctx, ws.ID, task.ID)
	must(t, err, "GetTask")
	if got.LogBytes != 18 || got.LogsDropped != 3 {
		t.Errorf("task log bytes %d dropped %d, want 18 and 3", got.LogBytes, got.LogsDropped)
	}
	var logs []string
	for _, e := range events(t, s, ws.ID, task.ID) {
		if e.Type == api.EventLog {
			logs = append(logs, e.Message)
		}
	}
	if len(logs) != 4 || strings.Join(logs[:3], ",") != "12345,67890,12345" || !strings.Contains(logs[3], "log budget of 20 bytes") {
		t.Errorf("stored logs %q, want the three lines that fit and one notice", logs)
	}

	// The budget is the task's, not the attempt's: a retry stores nothing
	// more. A budget below 0 is no limit; 0 stores nothing.
	_, err = s.Complete(ctx, ws.ID, task.ID, 1, store.Outcome{Status: api.TaskFailed, Error: "boom",
		Retryable: true, RetryAt: at, Now: at})
	must(t, err, "Complete (failed, retryable)")
	claim(t, s, params(ws.ID, t0.Add(time.Hour)))
	res, err = s.AppendLogs(ctx, ws.ID, task.ID, 2, []string{"retry"}, budget, at)
	must(t, err, "AppendLogs")
	if res != (store.LogResult{Dropped: 1}) {
		t.Errorf("retry's lines: %+v, want 1 dropped", res)
	}
	other := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0.Add(time.Hour)))
	res, err = s.AppendLogs(ctx, ws.ID, other.ID, 1, []string{strings.Repeat("x", 1000)}, -1, at)
	must(t, err, "AppendLogs")
	if res != (store.LogResult{Stored: 1}) {
		t.Errorf("no budget: %+v, want 1 stored", res)
	}
	res, err = s.AppendLogs(ctx, ws.ID, other.ID, 1, []string{"x"}, 0, at)
	must(t, err, "AppendLogs")
	if res.Stored != 0 || res.Dropped != 1 {
		t.Errorf("budget 0: %+v, want 1 dropped", res)
	}
	// A stale attempt is refused before the budget is looked at.
	_, err = s.AppendLogs(ctx, ws.ID, task.ID, 1, []string{"zombie"}, budget, at)
	wantErr(t, err, store.ErrStale, "AppendLogs of an old attempt")
}

// testTaskStreams: the lines of a token stream are stream events with
// their channel, between the log lines in the order they came, and they
// share the task's log budget with the log lines; the notice of the first
// drop is a log line. A stale attempt's stream is refused.
func testTaskStreams(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	at := t0.Add(time.Second)
	const budget = 20
	_, err := s.AppendLogs(ctx, ws.ID, task.ID, 1, []string{"log"}, budget, at) // 4 bytes
	must(t, err, "AppendLogs")
	res, err := s.AppendStream(ctx, ws.ID, task.ID, 1, "tokens", []string{"fan", "out\x00"}, budget, at) // 15 (the NUL becomes U+FFFD, 3 bytes)
	must(t, err, "AppendStream")
	if res != (store.LogResult{Stored: 2}) {
		t.Errorf("stream lines: %+v, want 2 stored", res)
	}
	res, err = s.AppendStream(ctx, ws.ID, task.ID, 1, "", []string{"hi", "too long"}, budget, at) // 18, then 27
	must(t, err, "AppendStream")
	if res != (store.LogResult{Stored: 1, Dropped: 1}) {
		t.Errorf("stream lines at the budget: %+v, want 1 stored 1 dropped", res)
	}
	res, err = s.AppendLogs(ctx, ws.ID, task.ID, 1, []string{"x"}, budget, at)
	must(t, err, "AppendLogs")
	if res != (store.LogResult{Dropped: 1}) {
		t.Errorf("log line past a stream's budget: %+v, want 1 dropped", res)
	}
	got, err := s.GetTask(ctx, ws.ID, task.ID)
	must(t, err, "GetTask")
	if got.LogBytes != 18 || got.LogsDropped != 2 {
		t.Errorf("task log bytes %d dropped %d, want 18 and 2", got.LogBytes, got.LogsDropped)
	}
	type line struct{ typ, status, channel, msg string }
	var lines []line
	for _, e := range events(t, s, ws.ID, task.ID) {
		if e.Type == api.EventLog || e.Type == api.EventStream {
			lines = append(lines, line{e.Type, e.Status, e.Channel, e.Message})
		}
	}
	want := []line{{api.EventLog, "", "", "log"}, {api.EventStream, "", "tokens", "fan"}, {api.EventStream, "", "tokens", "out\uFFFD"},
		{api.EventStream, "", "", "hi"}}
	if len(lines) != 5 || !slices.Equal(lines[:4], want) || lines[4].typ != api.EventLog || !strings.Contains(lines[4].msg, "log budget of 20 bytes") {
		t.Errorf("events %q, want %q and a log notice", lines, want)
	}
	_, err = s.AppendStream(ctx, ws.ID, task.ID, 2, "tokens", []string{"zombie"}, budget, at)
	wantErr(t, err, store.ErrStale, "AppendStream of another attempt")
}
