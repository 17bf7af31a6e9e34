package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func unavailable(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, api.CodeUnavailable, "draining")
}

func okKey(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Key{ID: "key_1"}) }

func withRetryAfter(v string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", v)
		h(w, r)
	}
}

func ms(v ...int) []time.Duration {
	d := make([]time.Duration, len(v))
	for i, n := range v {
		d[i] = time.Duration(n) * time.Millisecond
	}
	return d
}

func TestRetry503ThenSuccess(t *testing.T) {
	b := setup(t, sequence(unavailable, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.CodeRateLimited, "slow down")
	}, okKey))
	k, err := b.c.GetKey(context.Background(), "key_1")
	if err != nil || k.ID != "key_1" {
		t.Fatalf("GetKey = %+v, %v", k, err)
	}
	if got := b.recordedWaits(); !slices.Equal(got, ms(250, 500)) {
		t.Errorf("waits = %v", got)
	}
}

func TestRetryGatewayStatuses(t *testing.T) {
	for _, status := range []int{502, 503, 504, 429} {
		b := setup(t, sequence(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }, okKey))
		if _, err := b.c.GetKey(context.Background(), "key_1"); err != nil {
			t.Errorf("%d: %v", status, err)
		}
	}
	for _, status := range []int{400, 401, 403, 404, 409, 422, 500} {
		b := setup(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) })
		_, err := b.c.GetKey(context.Background(), "key_1")
		if ae, ok := err.(*APIError); !ok || ae.Status != status || len(b.requests()) != 1 {
			t.Errorf("%d: err = %v after %d requests, want no retry", status, err, len(b.requests()))
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	b := setup(t, sequence(withRetryAfter("3", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.CodeRateLimited, "slow down")
	}), okKey))
	if _, err := b.c.GetKey(context.Background(), "key_1"); err != nil {
		t.Fatal(err)
	}
	// The test's jitter picks its ceiling: a tenth of Retry-After.
	if got := b.recordedWaits(); !slices.Equal(got, []time.Duration{3300 * time.Millisecond}) {
		t.Errorf("waits = %v, want [3.3s]", got)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	date := now.Add(7 * time.Second).Format(http.TimeFormat)
	b := setup(t, sequence(withRetryAfter(date, unavailable), okKey), withClock(func() time.Time { return now }))
	if _, err := b.c.GetKey(context.Background(), "key_1"); err != nil {
		t.Fatal(err)
	}
	if got := b.recordedWaits(); !slices.Equal(got, []time.Duration{7700 * time.Millisecond}) {
		t.Errorf("waits = %v, want [7.7s]", got)
	}
}

func TestRetryGivesUpWithLastError(t *testing.T) {
	n := 0
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		writeProblem(w, api.CodeUnavailable, "attempt "+strconv.Itoa(n))
	})
	_, err := b.c.GetKey(context.Background(), "key_1")
	ae, ok := err.(*APIError)
	if !ok || ae.Code != api.CodeUnavailable || ae.Detail != "attempt 5" {
		t.Fatalf("err = %v, want the 5th attempt's APIError", err)
	}
	if got := b.recordedWaits(); !slices.Equal(got, ms(250, 500, 1000, 2000)) {
		t.Errorf("waits = %v", got)
	}
}

func TestBackoffCappedByMaxWait(t *testing.T) {
	b := setup(t, unavailable, WithRetry(6, time.Second))
	_, _ = b.c.GetKey(context.Background(), "key_1")
	if got := b.recordedWaits(); !slices.Equal(got, ms(250, 500, 1000, 1000, 1000, 1000)) {
		t.Errorf("waits = %v", got)
	}
	if n := len(b.requests()); n != 7 {
		t.Errorf("%d requests, want 7", n)
	}
}

func TestRetryDisabled(t *testing.T) {
	b := setup(t, unavailable, WithRetry(0, 0))
	if _, err := b.c.GetKey(context.Background(), "key_1"); !IsCode(err, api.CodeUnavailable) || len(b.requests()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(b.requests()))
	}
}

func TestRetryAfterBeyondMaxWaitGivesUp(t *testing.T) {
	b := setup(t, withRetryAfter("3600", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, api.CodeQuotaExceeded, "monthly execution seconds used up")
	}))
	_, err := b.c.GetKey(context.Background(), "key_1")
	ae, ok := err.(*APIError)
	if !ok || ae.Code != api.CodeQuotaExceeded || ae.RetryAfter != time.Hour {
		t.Fatalf("err = %#v", err)
	}
	if len(b.requests()) != 1 || len(b.recordedWaits()) != 0 {
		t.Errorf("retried: %d requests, waits %v", len(b.requests()), b.recordedWaits())
	}
}

func TestQuotaExceededWithoutRetryAfterNotRetried(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { writeProblem(w, api.CodeQuotaExceeded, "spend cap") })
	if _, err := b.c.GetKey(context.Background(), "key_1"); !IsCode(err, api.CodeQuotaExceeded) || len(b.requests()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(b.requests()))
	}
}

func TestRetryAfterBeyondDeadlineGivesUp(t *testing.T) {
	b := setup(t, withRetryAfter("10", unavailable))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := b.c.GetKey(ctx, "key_1")
	if ae, ok := err.(*APIError); !ok || ae.RetryAfter != 10*time.Second {
		t.Fatalf("err = %v", err)
	}
	if len(b.requests()) != 1 || len(b.recordedWaits()) != 0 {
		t.Errorf("retried: %d requests", len(b.requests()))
	}
}

func TestNonIdempotentNotRetried(t *testing.T) {
	b := setup(t, unavailable)
	ctx := context.Background()
	if _, err := b.c.CreateKey(ctx, api.CreateKeyRequest{Name: "x"}); !IsCode(err, api.CodeUnavailable) {
		t.Errorf("CreateKey err = %v", err)
	}
	if _, err := b.c.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "x"}); !IsCode(err, api.CodeUnavailable) {
		t.Errorf("CreateWorkspace err = %v", err)
	}
	if _, err := b.c.RotateKey(ctx, "key_1", api.RotateKeyRequest{}); !IsCode(err, api.CodeUnavailable) {
		t.Errorf("RotateKey err = %v", err)
	}
	if _, err := b.c.UpdateWorkspace(ctx, "ws_1", api.UpdateWorkspaceRequest{}); !IsCode(err, api.CodeUnavailable) {
		t.Errorf("UpdateWorkspace err = %v", err)
	}
	if n := len(b.requests()); n != 4 {
		t.Errorf("%d requests, want 4 (no retries)", n)
	}
}

func TestIdempotencyKeyMakesPOSTRetryable(t *testing.T) {
	b := setup(t, sequence(unavailable, unavailable, okKey))
	req := api.CreateKeyRequest{Name: "ci", Scopes: []string{"*"}}
	if _, err := b.c.CreateKey(context.Background(), req, WithIdempotencyKey("idem-1")); err != nil {
		t.Fatal(err)
	}
	reqs := b.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.Header.Get(api.HeaderIdempotencyKey) != "idem-1" || r.Body != reqs[0].Body || !strings.Contains(r.Body, `"ci"`) {
			t.Errorf("attempt %d: key %q body %q", i, r.Header.Get(api.HeaderIdempotencyKey), r.Body)
		}
	}
}

func TestTokenIsRetryable(t *testing.T) {
	b := setup(t, sequence(unavailable, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, api.TokenResponse{Token: "t"})
	}))
	if tok, err := b.c.Token(context.Background()); err != nil || tok.Token != "t" {
		t.Fatalf("Token = %v, %v", tok, err)
	}
}

func TestHealthNotRetried(t *testing.T) {
	b := setup(t, unavailable)
	if _, err := b.c.Health(context.Background()); !IsCode(err, api.CodeUnavailable) || len(b.requests()) != 1 {
		t.Errorf("err = %v after %d requests", err, len(b.requests()))
	}
}

// closedAddr returns the URL of a port nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestConnectionRefusedRetriedForPOST(t *testing.T) {
	var waits []time.Duration
	c, err := New(closedAddr(t), withTestHooks(func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}, func(d time.Duration) time.Duration { return d }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateKey(context.Background(), api.CreateKeyRequest{Name: "ci"})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want connection refused", err)
	}
	if !strings.HasPrefix(err.Error(), `create key "ci": `) || !strings.Contains(err.Error(), "after 5 attempts") {
		t.Errorf("err = %q", err)
	}
	if _, ok := err.(*APIError); ok || IsCode(err, api.CodeUnavailable) {
		t.Error("network error reported as APIError")
	}
	if !slices.Equal(waits, ms(250, 500, 1000, 2000)) {
		t.Errorf("waits = %v", waits)
	}
}

func TestNotSent(t *testing.T) {
	for err, want := range map[error]bool{
		&net.OpError{Op: "dial", Err: errors.New("i/o timeout")}:                            true,
		fmt.Errorf("x: %w", syscall.ECONNREFUSED):                                           true,
		&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", IsNotFound: true}}: false,
		&net.OpError{Op: "read", Err: syscall.ECONNRESET}:                                   false,
		errors.New("EOF"): false,
	} {
		if got := notSent(err); got != want {
			t.Errorf("notSent(%v) = %v, want %v", err, got, want)
		}
	}
}

func TestCancelStopsWaiting(t *testing.T) {
	b := setup(t, unavailable)
	ctx, cancel := context.WithCancel(context.Background())
	// The real sleep, but the context is cancelled as the wait begins.
	b.c.sleep = func(ctx context.Context, d time.Duration) error {
		if d != 250*time.Millisecond {
			t.Errorf("wait %v", d)
		}
		cancel()
		return sleepCtx(ctx, time.Hour)
	}
	start := time.Now()
	_, err := b.c.GetKey(ctx, "key_1")
	if !errors.Is(err, context.Canceled) || IsCode(err, api.CodeUnavailable) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "unavailable: draining") {
		t.Errorf("err = %q, want the last error mentioned", err)
	}
	if len(b.requests()) != 1 || time.Since(start) > 10*time.Second {
		t.Errorf("%d requests in %v", len(b.requests()), time.Since(start))
	}
}

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(context.Background(), 0); err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func TestFullJitterBounds(t *testing.T) {
	if fullJitter(0) != 0 {
		t.Error("fullJitter(0) != 0")
	}
	for range 1000 {
		if d := fullJitter(time.Second); d < 0 || d > time.Second {
			t.Fatalf("fullJitter = %v", d)
		}
	}
}

// WithDialRetries(0) fails at once on a refused connection, with no wait.
func TestDialRetriesZeroFailsFast(t *testing.T) {
	var waits []time.Duration
	c, err := New(closedAddr(t), WithDialRetries(0), withTestHooks(func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}, func(d time.Duration) time.Duration { return d }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err = c.Me(context.Background()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v, want connection refused", err)
	}
	if len(waits) != 0 {
		t.Errorf("waited %v before failing", waits)
	}
}
