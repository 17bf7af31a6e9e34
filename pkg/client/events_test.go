package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func sse(w http.ResponseWriter, seq int64, msg string) {
	fmt.Fprintf(w, "id: %d\nevent: log\ndata: {\"seq\":%d,\"type\":\"log\",\"message\":%q}\n\n", seq, seq, msg)
}

// TestFollowTaskEventsResumesWithoutGapsOrDuplicates: the first connection
// drops after two events; the second is asked to resume after seq 2, and
// even if the server repeats an event the caller sees each once.
func TestFollowTaskEventsResumesWithoutGapsOrDuplicates(t *testing.T) {
	var conns atomic.Int32
	lastIDs := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/tasks/task_1/events" || r.Header.Get("Accept") != "text/event-stream" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "bad request", 400)
			return
		}
		lastIDs <- r.Header.Get("Last-Event-ID")
		w.Header().Set("Content-Type", "text/event-stream")
		switch conns.Add(1) {
		case 1:
			sse(w, 1, "one")
			fmt.Fprint(w, ": keep-alive\n\n")
			sse(w, 2, "two")
			// connection drops without an end event
		default:
			sse(w, 2, "two again")
			sse(w, 3, "three")
			fmt.Fprint(w, "event: end\ndata: {\"status\":\"succeeded\"}\n\n")
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	c, err := New(srv.URL, WithAPIKey("k"), withTestHooks(func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }, func(d time.Duration) time.Duration { return d }))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	final, err := c.FollowTaskEvents(context.Background(), "task_1", 0, func(e api.TaskEvent) error {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.Message))
		return nil
	})
	if err != nil || final != "succeeded" {
		t.Fatalf("FollowTaskEvents = %q, %v", final, err)
	}
	if fmt.Sprint(got) != "[1:one 2:two 3:three]" {
		t.Fatalf("events = %v", got)
	}
	if a, b := <-lastIDs, <-lastIDs; a != "0" || b != "2" {
		t.Fatalf("Last-Event-ID = %q then %q, want 0 then 2", a, b)
	}
	if len(waits) != 1 {
		t.Fatalf("waits = %v, want one backoff before reconnecting", waits)
	}
}

func TestFollowTaskEventsNotFoundIsFinal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(404)
		fmt.Fprint(w, `{"code":"not_found","status":404,"detail":"task task_x not found"}`)
	}))
	defer srv.Close()
	c, _ := New(srv.URL)
	_, err := c.FollowTaskEvents(context.Background(), "task_x", 0, func(api.TaskEvent) error { return nil })
	if !IsCode(err, api.CodeNotFound) {
		t.Fatalf("err = %v, want not_found", err)
	}
}
