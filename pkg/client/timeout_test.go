package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// reqTimeout is the per-request bound of these tests.
const reqTimeout = 100 * time.Millisecond

// stall answers nothing until the client gives up on the request.
func stall(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// TestRequestTimeoutEachAttempt (issue 16 row 7): WithRequestTimeout
// bounds each attempt, not the call: two attempts that stall are cut and
// retried, each with a bound of its own, and the third is answered.
func TestRequestTimeoutEachAttempt(t *testing.T) {
	b := setup(t, sequence(stall, stall, okKey), WithRequestTimeout(reqTimeout))
	start := time.Now()
	k, err := b.c.GetKey(context.Background(), "key_1")
	if err != nil || k.ID != "key_1" {
		t.Fatalf("GetKey = %+v, %v", k, err)
	}
	if n := len(b.requests()); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	// Two bounds were used up: the call lasted longer than one.
	if el := time.Since(start); el < 2*reqTimeout {
		t.Fatalf("the call took %s, less than two request timeouts", el)
	}
}

// A request that stalls every time fails with ErrRequestTimeout, saying
// how long it waited, after the retries.
func TestRequestTimeoutGivesUp(t *testing.T) {
	b := setup(t, stall, WithRequestTimeout(reqTimeout), WithRetry(1, 0))
	_, err := b.c.GetKey(context.Background(), "key_1")
	if !errors.Is(err, ErrRequestTimeout) || !strings.Contains(err.Error(), "GET /v1/keys/key_1: no answer within 100ms") {
		t.Fatalf("err = %v", err)
	}
	if n := len(b.requests()); n != 2 {
		t.Fatalf("%d requests, want 2 (one retry)", n)
	}
}

// A POST without an Idempotency-Key that timed out may have been acted
// on: it is not repeated.
func TestRequestTimeoutPostNotRetried(t *testing.T) {
	b := setup(t, stall, WithRequestTimeout(reqTimeout))
	_, err := b.c.SubmitTask(context.Background(), api.SubmitTaskRequest{Queue: "q"}, "")
	if !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("err = %v", err)
	}
	if n := len(b.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// The bound covers the body: headers in time and a body that never ends
// is a timeout too.
func TestRequestTimeoutCoversBody(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		fmt.Fprint(w, `{"id":`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}, WithRequestTimeout(reqTimeout), WithRetry(0, 0))
	if _, err := b.c.GetKey(context.Background(), "key_1"); !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("err = %v", err)
	}
}

// Without WithRequestTimeout a slow answer is waited for; with a bound
// larger than the answer's delay, too.
func TestRequestTimeoutNotHitBySlowAnswer(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(reqTimeout / 2):
		case <-r.Context().Done():
			return
		}
		okKey(w, r)
	}
	for _, opts := range [][]Option{nil, {WithRequestTimeout(10 * reqTimeout)}} {
		b := setup(t, slow, opts...)
		if _, err := b.c.GetKey(context.Background(), "key_1"); err != nil {
			t.Fatalf("GetKey: %v", err)
		}
		if n := len(b.requests()); n != 1 {
			t.Fatalf("%d requests, want 1", n)
		}
	}
}

// An event stream is not cut by the request timeout once it is open:
// events that come after several timeouts' worth of quiet arrive, on the
// same connection.
func TestRequestTimeoutLeavesStreamsOpen(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		sse(w, 1, "one")
		w.(http.Flusher).Flush()
		select {
		case <-time.After(4 * reqTimeout):
		case <-r.Context().Done():
			return
		}
		sse(w, 2, "two")
		fmt.Fprint(w, "event: end\ndata: {\"status\":\"succeeded\"}\n\n")
	}, WithRequestTimeout(reqTimeout))
	var got []string
	final, err := b.c.FollowTaskEvents(context.Background(), "task_1", 0, func(e api.TaskEvent) error {
		got = append(got, e.Message)
		return nil
	})
	if err != nil || final != "succeeded" || fmt.Sprint(got) != "[one two]" {
		t.Fatalf("FollowTaskEvents = %q, %v, events %v", final, err, got)
	}
	if n := len(b.requests()); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// A stream whose server never sends its headers is cut by the bound and
// opened again.
func TestRequestTimeoutStreamOpen(t *testing.T) {
	b := setup(t, sequence(stall, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		sse(w, 1, "one")
		fmt.Fprint(w, "event: end\ndata: {\"status\":\"succeeded\"}\n\n")
	}), WithRequestTimeout(reqTimeout))
	final, err := b.c.FollowTaskEvents(context.Background(), "task_1", 0, func(api.TaskEvent) error { return nil })
	if err != nil || final != "succeeded" {
		t.Fatalf("FollowTaskEvents = %q, %v", final, err)
	}
	if n := len(b.requests()); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// A claim's long poll is not cut by the request timeout: its bound is the
// claim's wait longer.
func TestRequestTimeoutLongPoll(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * reqTimeout): // the server holds the claim
		case <-r.Context().Done():
			return
		}
		writeJSON(w, 200, api.ClaimResponse{})
	}, WithRequestTimeout(reqTimeout), WithRetry(0, 0))
	if _, err := b.c.ClaimTasks(context.Background(), api.ClaimRequest{Queues: []string{"q"}, WaitSeconds: 1}); err != nil {
		t.Fatalf("ClaimTasks: %v", err)
	}
}
