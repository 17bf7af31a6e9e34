package server

import (
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// TestLogBudget: a task stores at most its workspace's
// max_log_bytes_per_task of log lines; past it the logs route still
// answers 204 (the worker goes on), lines are dropped and counted on the
// task, and /metrics counts them. Before the budget existed one free-tier
// task stored 272 MB in 46 s.
func TestLogBudget(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newFreeTenant("acme", map[string]int64{api.LimitMaxLogBytesPerTask: 1000})
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	line := strings.Repeat("y", 99) // 100 bytes with its newline
	lines := make([]string, 25)
	for i := range lines {
		lines[i] = line
	}
	for range 4 {
		b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: lines}, 204, nil)
	}
	got := b.getTask(a.key, task.ID)
	if got.LogBytes != 1000 || got.LogsDropped != 90 {
		t.Errorf("log_bytes %d logs_dropped %d, want 1000 and 90", got.LogBytes, got.LogsDropped)
	}
	var page struct {
		Data []api.TaskEvent `json:"data"`
	}
	b.call("GET", "/v1/tasks/"+task.ID+"/events?limit=100", a.key, nil, 200, &page)
	logs := 0
	for _, e := range page.Data {
		if e.Type == api.EventLog {
			logs++
		}
	}
	if logs != 11 { // 10 lines and the notice
		t.Errorf("%d log events stored, want 11", logs)
	}
	if n := b.scrape()["baton_task_log_lines_dropped_total"].GetMetric()[0].GetCounter().GetValue(); n != 90 {
		t.Errorf("baton_task_log_lines_dropped_total = %v, want 90", n)
	}
}
