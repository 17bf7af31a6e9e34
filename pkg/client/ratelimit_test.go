package client

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func rateLimited(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "2")
	writeProblem(w, api.CodeRateLimited, "workspace ws_1 is over its rate limit (600 per minute, burst 100); retry in 2s")
}

// A POST without an Idempotency-Key is retried after a 429 rate_limited:
// the server refused it before doing anything.
func TestRateLimitedPOSTIsRetried(t *testing.T) {
	b := setup(t, sequence(rateLimited, rateLimited, okKey))
	k, err := b.c.CreateKey(context.Background(), api.CreateKeyRequest{Name: "ci"})
	if err != nil || k.ID != "key_1" {
		t.Fatalf("CreateKey = %+v, %v", k, err)
	}
	reqs := b.requests()
	if len(reqs) != 3 || reqs[2].Method != "POST" || reqs[2].Body != reqs[0].Body {
		t.Fatalf("requests = %+v", reqs)
	}
	// Retry-After plus jitter (the test's jitter picks its ceiling, a tenth).
	if got := b.recordedWaits(); !slices.Equal(got, ms(2200, 2200)) {
		t.Errorf("waits = %v, want [2.2s 2.2s]", got)
	}
}

func TestRateLimitedGivesUpWithRetryAfter(t *testing.T) {
	b := setup(t, rateLimited)
	_, err := b.c.CreateWorkspace(context.Background(), api.CreateWorkspaceRequest{Name: "acme"})
	ae, ok := err.(*APIError)
	if !ok || ae.Code != api.CodeRateLimited || ae.Status != 429 || ae.RetryAfter != 2*time.Second {
		t.Fatalf("err = %#v, want the last rate_limited APIError with RetryAfter 2s", err)
	}
	if n := len(b.requests()); n != 1+DefaultMaxRetries {
		t.Errorf("%d requests, want %d", n, 1+DefaultMaxRetries)
	}
}

func TestRateLimitedRetryAfterBeyondMaxWaitGivesUp(t *testing.T) {
	b := setup(t, rateLimited, WithRetry(4, time.Second))
	_, err := b.c.CreateKey(context.Background(), api.CreateKeyRequest{Name: "ci"})
	if ae, ok := err.(*APIError); !ok || ae.RetryAfter != 2*time.Second || len(b.requests()) != 1 {
		t.Fatalf("err = %v after %d requests", err, len(b.requests()))
	}
}

func TestRateLimitedJitterCappedByMaxWait(t *testing.T) {
	b := setup(t, sequence(rateLimited, okKey), WithRetry(4, 2100*time.Millisecond))
	if _, err := b.c.CreateKey(context.Background(), api.CreateKeyRequest{Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	if got := b.recordedWaits(); !slices.Equal(got, ms(2100)) {
		t.Errorf("waits = %v, want [2.1s]", got)
	}
}

// quota_exceeded is not a rate limit: a non-idempotent request is not
// retried even with Retry-After.
func TestQuotaExceededPOSTNotRetried(t *testing.T) {
	b := setup(t, withRetryAfter("5", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.CodeQuotaExceeded, "monthly task executions used up")
	}))
	_, err := b.c.CreateKey(context.Background(), api.CreateKeyRequest{Name: "ci"})
	if ae, ok := err.(*APIError); !ok || ae.Code != api.CodeQuotaExceeded || ae.RetryAfter != 5*time.Second || len(b.requests()) != 1 {
		t.Fatalf("err = %v after %d requests", err, len(b.requests()))
	}
}

func TestRetryAfterJitter(t *testing.T) {
	for ra, want := range map[time.Duration]time.Duration{
		time.Second: 100 * time.Millisecond, 5 * time.Second: 500 * time.Millisecond, time.Minute: time.Second,
	} {
		if got := retryAfterJitter(ra); got != want {
			t.Errorf("retryAfterJitter(%v) = %v, want %v", ra, got, want)
		}
	}
}
