package server

import (
	"bufio"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// openEvents opens task id's events as server-sent events.
func (b *bundle) openEvents(cred, id string) *http.Response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.http.URL+"/v1/tasks/"+id+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Accept", "text/event-stream")
	res, err := b.http.Client().Do(req)
	if err != nil || res.StatusCode != 200 {
		b.t.Fatalf("event stream of %s: %v %v", id, err, res)
	}
	return res
}

// TestStreamEvents: a worker's stream lines (baton step emit) are task
// events of type stream with their channel, listed and followed as SSE
// events named stream, between the log lines in the order they came, and
// counted in the task's log budget with them; a channel needs stream: true
// and must be a name.
func TestStreamEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newFreeTenant("acme", map[string]int64{api.LimitMaxLogBytesPerTask: 20})
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	logs := "/v1/tasks/" + task.ID + "/logs"
	for _, bad := range []api.LogsRequest{
		{Attempt: 1, Lines: []string{"x"}, Channel: "tokens"},
		{Attempt: 1, Lines: []string{"x"}, Stream: true, Channel: "two words"},
		{Attempt: 1, Lines: []string{"x"}, Stream: true, Channel: strings.Repeat("c", api.MaxChannelBytes+1)},
	} {
		raw, _ := json.Marshal(bad)
		p := wantProblem(t, b.req("POST", logs, a.key, string(raw)), 422, api.CodeValidationFailed)
		if len(p.Errors) != 1 || p.Errors[0].Field != "channel" {
			t.Errorf("%+v: errors %+v, want one for channel", bad, p.Errors)
		}
	}
	b.call("POST", logs, a.key, api.LogsRequest{Attempt: 1, Lines: []string{"log"}}, 204, nil)                                         // 4 bytes
	b.call("POST", logs, a.key, api.LogsRequest{Attempt: 1, Lines: []string{"fan", "out"}, Stream: true, Channel: "tokens"}, 204, nil) // 12
	b.call("POST", logs, a.key, api.LogsRequest{Attempt: 1, Lines: []string{"plain", "dropped"}, Stream: true}, 204, nil)              // 18, then 26
	b.call("POST", "/v1/tasks/"+task.ID+"/complete", a.key, api.CompleteRequest{Attempt: 1}, 200, nil)
	if got := b.getTask(a.key, task.ID); got.LogBytes != 18 || got.LogsDropped != 1 {
		t.Errorf("log_bytes %d logs_dropped %d, want 18 and 1", got.LogBytes, got.LogsDropped)
	}

	// The list and the SSE stream carry the same events.
	var page struct {
		Data []api.TaskEvent `json:"data"`
	}
	b.call("GET", "/v1/tasks/"+task.ID+"/events", a.key, nil, 200, &page)
	res := b.openEvents(a.key, task.ID)
	defer res.Body.Close()
	var names []string
	var streamed []api.TaskEvent
	sc := bufio.NewScanner(res.Body)
	event := ""
	for sc.Scan() && event != "end" {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
			names = append(names, v)
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok && event != "end" {
			var e api.TaskEvent
			if err := json.Unmarshal([]byte(v), &e); err != nil {
				t.Fatalf("event data %s: %v", v, err)
			}
			streamed = append(streamed, e)
		}
	}
	if strings.Join(names, " ") != "state state log stream stream stream log state end" {
		t.Errorf("SSE event names %q", names)
	}
	if len(streamed) != len(page.Data) {
		t.Fatalf("SSE sent %d events, the list has %d", len(streamed), len(page.Data))
	}
	type line struct{ typ, channel, msg string }
	var got []line
	for i, e := range streamed {
		if e != page.Data[i] {
			t.Errorf("SSE event %+v, listed %+v", e, page.Data[i])
		}
		if e.Type == api.EventStream {
			got = append(got, line{e.Type, e.Channel, e.Message})
			if e.Status != "" || e.Attempt != 1 {
				t.Errorf("stream event %+v: want no status, attempt 1", e)
			}
		}
	}
	want := []line{{api.EventStream, "tokens", "fan"}, {api.EventStream, "tokens", "out"}, {api.EventStream, "", "plain"}}
	if !slices.Equal(got, want) {
		t.Errorf("stream events %+v, want %+v", got, want)
	}
	if e := page.Data[len(page.Data)-2]; e.Type != api.EventLog || !strings.Contains(e.Message, "log budget of 20 bytes") {
		t.Errorf("event before the end %+v, want the budget notice", e)
	}
}

// TestStreamEventsLive: a follower of the events SSE gets a stream line as
// soon as the worker posts it (the logs route wakes the task's followers),
// not at the next poll.
func TestStreamEventsLive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
	b.claim(a.key)
	res := b.openEvents(a.key, task.ID)
	defer res.Body.Close()
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- v
			}
		}
	}()
	next := func() string {
		select {
		case e := <-events:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10 s")
			return ""
		}
	}
	for range 2 { // queued, running
		if e := next(); e != api.EventState {
			t.Fatalf("event %q, want state", e)
		}
	}
	start := time.Now()
	b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: []string{"tok"}, Stream: true, Channel: "tokens"}, 204, nil)
	if e := next(); e != api.EventStream {
		t.Fatalf("event %q, want stream", e)
	}
	t.Logf("the stream line reached the follower %v after the worker posted it (SSE poll: %v)", time.Since(start).Round(time.Millisecond), ssePoll)
}
