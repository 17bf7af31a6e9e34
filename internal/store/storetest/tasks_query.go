package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func testTaskEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	at := t0.Add(time.Second)
	must(t, appendLogs(ctx, s, ws.ID, task.ID, 1, []string{"one", "two", "three"}, at), "AppendLogs")
	must(t, appendLogs(ctx, s, ws.ID, task.ID, 1, nil, at), "AppendLogs of no lines")
	// Text every dialect can store: invalid UTF-8 and NUL become U+FFFD.
	must(t, appendLogs(ctx, s, ws.ID, task.ID, 1, []string{"nul\x00bad\xffé", ""}, at), "AppendLogs")
	_, err := s.Complete(ctx, ws.ID, task.ID, 1, succeed(at))
	must(t, err, "Complete")

	all := events(t, s, ws.ID, task.ID)
	type ev struct {
		typ, status string
		attempt     int
		msg         string
	}
	want := []ev{
		{api.EventState, api.TaskQueued, 0, ""},
		{api.EventState, api.TaskRunning, 1, "claimed by w1"},
		{api.EventLog, "", 1, "one"}, {api.EventLog, "", 1, "two"}, {api.EventLog, "", 1, "three"},
		{api.EventLog, "", 1, "nul\uFFFDbad\uFFFDé"}, {api.EventLog, "", 1, ""},
		{api.EventState, api.TaskSucceeded, 1, ""},
	}
	var got []ev
	for _, e := range all {
		got = append(got, ev{e.Type, e.Status, e.Attempt, e.Message})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %+v\nwant %+v", got, want)
	}
	checkTime(t, "log event At", all[2].At, at)

	// Resuming after any seq, in pages of any size, gives every event once.
	for size := 1; size <= 3; size++ {
		var seqs []int64
		after := int64(0)
		for {
			page, err := s.ListEvents(ctx, ws.ID, task.ID, after, size)
			must(t, err, "ListEvents")
			if len(page) > size {
				t.Fatalf("page of %d events, limit %d", len(page), size)
			}
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				seqs = append(seqs, e.Seq)
			}
			after = page[len(page)-1].Seq
		}
		if len(seqs) != len(all) || seqs[0] != 1 || seqs[len(seqs)-1] != int64(len(all)) {
			t.Errorf("pages of %d: seqs %v", size, seqs)
		}
	}
	rest, err := s.ListEvents(ctx, ws.ID, task.ID, 100, 0)
	must(t, err, "ListEvents past the end")
	if rest == nil || len(rest) != 0 {
		t.Errorf("ListEvents past the end = %#v, want empty", rest)
	}
	_, err = s.ListEvents(ctx, ws.ID, ids.New(ids.Task), 0, 10)
	wantErr(t, err, store.ErrNotFound, "ListEvents of an unknown task")
	_, err = s.ListAttempts(ctx, ws.ID, ids.New(ids.Task))
	wantErr(t, err, store.ErrNotFound, "ListAttempts of an unknown task")
	err = appendLogs(ctx, s, ws.ID, ids.New(ids.Task), 1, []string{"x"}, at)
	wantErr(t, err, store.ErrNotFound, "AppendLogs of an unknown task")
}

func testTaskListAndCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "acme")
	other, _ := createWorkspace(t, s, "other")
	createTask(t, s, newTask(other.ID))
	// Label keys a JSON path would trip over.
	keys := []string{"env", "a.b", `we"ird`, "x'y", "$[0]"}
	var all []store.Task
	for i := range 25 {
		in := newTask(ws.ID)
		if i%5 == 0 {
			in.Queue = "gpu"
		}
		in.Labels = map[string]string{keys[i%len(keys)]: fmt.Sprint(i % 2)}
		if i%3 == 0 {
			in.Labels["team"] = "x"
		}
		all = append(all, createTask(t, s, in))
	}
	for range 3 {
		claim(t, s, params(ws.ID, t0)) // the 3 oldest default-queue tasks
	}
	newest := func(ts []store.Task) []string {
		var out []string
		for _, tk := range ts {
			out = append(out, tk.ID)
		}
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	list := func(f store.TaskFilter, limit int) []string {
		t.Helper()
		var out []string
		after := ""
		for {
			page, err := s.ListTasks(ctx, ws.ID, f, store.Page{After: after, Limit: limit})
			must(t, err, "ListTasks")
			for _, tk := range page {
				out = append(out, tk.ID)
			}
			if len(page) < limit {
				return out
			}
			after = page[len(page)-1].ID
		}
	}
	check := func(what string, f store.TaskFilter, want []store.Task) {
		t.Helper()
		for _, limit := range []int{4, 100} {
			if got := list(f, limit); !slices.Equal(got, newest(want)) {
				t.Errorf("%s, pages of %d: got %v, want %v", what, limit, got, newest(want))
			}
		}
	}
	pick := func(keep func(i int) bool) []store.Task {
		var out []store.Task
		for i, tk := range all {
			if keep(i) {
				out = append(out, tk)
			}
		}
		return out
	}
	check("all", store.TaskFilter{}, all)
	check("queue gpu", store.TaskFilter{Queue: "gpu"}, pick(func(i int) bool { return i%5 == 0 }))
	running := pick(func(i int) bool { return i%5 != 0 && i <= 3 })
	check("running", store.TaskFilter{Status: api.TaskRunning}, running)
	check("running in gpu", store.TaskFilter{Status: api.TaskRunning, Queue: "gpu"}, nil)
	for k, key := range keys {
		check("label "+key, store.TaskFilter{Labels: []store.Label{{Key: key, Value: "1"}}},
			pick(func(i int) bool { return i%len(keys) == k && i%2 == 1 }))
	}
	check("label a", store.TaskFilter{Labels: []store.Label{{Key: "a", Value: "1"}}}, nil)
	check("label env empty", store.TaskFilter{Labels: []store.Label{{Key: "env", Value: ""}}}, nil)
	check("labels env=1 and team=x", store.TaskFilter{Labels: []store.Label{{Key: "env", Value: "1"}, {Key: "team", Value: "x"}}},
		pick(func(i int) bool { return i%len(keys) == 0 && i%2 == 1 && i%3 == 0 }))

	def, err := s.ListTasks(ctx, ws.ID, store.TaskFilter{}, store.Page{})
	must(t, err, "ListTasks with the default limit")
	if len(def) != 25 {
		t.Errorf("default limit listed %d tasks, want 25", len(def))
	}
	for status, want := range map[string]int{"": 25, api.TaskQueued: 22, api.TaskRunning: 3, api.TaskFailed: 0} {
		if n, err := s.CountTasks(ctx, ws.ID, status); err != nil || n != want {
			t.Errorf("CountTasks(%q) = %d, %v; want %d", status, n, err, want)
		}
	}
}

func testTaskDeleteWorkspace(t *testing.T, s store.Store) {
	ctx := t.Context()
	ws, _ := createWorkspace(t, s, "doomed")
	keep, _ := createWorkspace(t, s, "kept")
	task := createTask(t, s, newTask(ws.ID))
	claim(t, s, params(ws.ID, t0))
	must(t, appendLogs(ctx, s, ws.ID, task.ID, 1, []string{"log"}, t0), "AppendLogs")
	kept := createTask(t, s, newTask(keep.ID))

	must(t, s.DeleteWorkspace(ctx, ws.ID), "DeleteWorkspace")
	_, err := s.GetTask(ctx, ws.ID, task.ID)
	wantErr(t, err, store.ErrNotFound, "GetTask after DeleteWorkspace")
	if n, err := s.CountTasks(ctx, ws.ID, ""); err != nil || n != 0 {
		t.Errorf("CountTasks after DeleteWorkspace = %d, %v", n, err)
	}
	if got, err := s.ExpireLeases(ctx, t0.Add(time.Hour), nil); err != nil || len(got) != 0 {
		t.Errorf("ExpireLeases after DeleteWorkspace = %+v, %v; the running task should be gone", got, err)
	}
	// Its attempts and events are gone too: the same ids can be used again
	// and start from scratch.
	again := newWorkspace("doomed")
	again.ID = ws.ID
	must(t, s.CreateWorkspace(ctx, again, newKey(ws.ID)), "CreateWorkspace with the deleted id")
	createTask(t, s, task)
	checkStates(t, s, ws.ID, task.ID, api.TaskQueued)
	attempts(t, s, ws.ID, task.ID, 0)

	_, err = s.GetTask(ctx, keep.ID, kept.ID)
	must(t, err, "GetTask of another workspace's task")
}

// appendLogs is AppendLogs without a log budget.
func appendLogs(ctx context.Context, s store.TaskStore, workspaceID, id string, attempt int, lines []string, at time.Time) error {
	_, err := s.AppendLogs(ctx, workspaceID, id, attempt, lines, -1, at)
	return err
}
