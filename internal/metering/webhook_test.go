package metering

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// receiver is a webhook endpoint on 127.0.0.1 that answers with statuses
// in turn (200 once they run out) and records what it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	header   http.Header // sent with every response
	got      []http.Request
	bodies   [][]byte
	attempts atomic.Int64
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses, header: http.Header{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, *req)
		r.bodies = append(r.bodies, body)
		code := http.StatusOK
		if len(r.statuses) > 0 {
			code, r.statuses = r.statuses[0], r.statuses[1:]
		}
		for k, v := range r.header {
			w.Header()[k] = v
		}
		r.mu.Unlock()
		r.attempts.Add(1)
		if code == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

// hanging is a webhook endpoint that holds every request until release is
// closed (or the client gives up), signalling each arrival on arrived.
func hanging(t *testing.T) (srv *httptest.Server, arrived chan struct{}, release func()) {
	arrived = make(chan struct{}, 100)
	stop := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	release = func() { once.Do(func() { close(stop) }) }
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs first: Close waits for the handlers
	return srv, arrived, release
}

// hookCounts counts hook calls per kind and target.
type hookCounts struct {
	mu     sync.Mutex
	counts map[string]int // "delivered http://…"
}

func (h *hookCounts) hooks() WebhookHooks {
	h.counts = map[string]int{}
	add := func(kind string) func(string) {
		return func(target string) { h.mu.Lock(); h.counts[kind+" "+target]++; h.mu.Unlock() }
	}
	return WebhookHooks{Delivered: add("delivered"), Failed: add("failed"), Dropped: add("dropped")}
}

func (h *hookCounts) get(kind, target string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[kind+" "+target]
}

// sleeps records the backoff waits and returns at once (or with ctx's error).
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

func testConfig(urls ...string) WebhookConfig {
	return WebhookConfig{
		URLs:   urls,
		Logger: slog.New(slog.DiscardHandler),
		Sleep:  func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		Jitter: func() float64 { return 0.5 },
	}
}

func newNotifier(t *testing.T, cfg WebhookConfig) *Notifier {
	t.Helper()
	n, err := NewNotifier(cfg)
	if err != nil {
		t.Fatalf("NewNotifier: %v", err)
	}
	return n
}

// run runs n until stop is called (or the test ends); stop waits for Run
// to return, failing the test if it takes more than 5 s.
func run(t *testing.T, n *Notifier) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Run did not return within 5 s of its context ending")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func testAlert() store.Alert {
	acked := time.Date(2026, 2, 1, 10, 30, 0, 0, time.FixedZone("UTC+1", 3600))
	return store.Alert{
		ID:          ids.New(ids.Alert),
		WorkspaceID: "ws_1",
		Kind:        api.AlertThreshold,
		Metric:      api.QuotaSpend,
		Threshold:   80,
		Period:      "2026-02",
		Value:       4_100_000,
		Limit:       5_000_000,
		Message:     "spend at 82 % of $5",
		CreatedAt:   time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC),
		AckedAt:     &acked,
	}
}

func TestNotifierDelivers(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	var h hookCounts
	cfg := testConfig(rcv.URL + "/hooks/secret-token?sig=abc")
	cfg.Hooks = h.hooks()
	n := newNotifier(t, cfg)
	run(t, n)

	a := testAlert()
	if !n.Enqueue(a) {
		t.Fatal("Enqueue = false")
	}
	testutil.Eventually(t, 5*time.Second, "delivery", func() bool { return h.get("delivered", rcv.URL) == 1 })

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	req := rcv.got[0]
	if req.Method != http.MethodPost || req.URL.Path != "/hooks/secret-token" || req.URL.RawQuery != "sig=abc" {
		t.Errorf("request %s %s", req.Method, req.URL)
	}
	for k, want := range map[string]string{
		"Content-Type": "application/json", HeaderAlertID: a.ID, "User-Agent": "baton/dev",
	} {
		if got := req.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	var got api.Alert
	if err := json.Unmarshal(rcv.bodies[0], &got); err != nil {
		t.Fatalf("body %s: %v", rcv.bodies[0], err)
	}
	if want := ToAPI(a); !reflect.DeepEqual(got, want) {
		t.Errorf("body:\n got %+v\nwant %+v", got, want)
	}
	if n.Dropped() != 0 || h.get("failed", rcv.URL) != 0 {
		t.Errorf("dropped %d, failed %d", n.Dropped(), h.get("failed", rcv.URL))
	}
}

func TestNotifierRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		statuses      []int
		retryAfter    string
		wantAttempts  int
		wantDelivered bool
		wantSleeps    []time.Duration // jitter 0.5: ¾ of the doubled delay
	}{
		{"500 then 200", []int{500, 200}, "", 2, true, []time.Duration{750 * time.Millisecond}},
		{"502, 503, 504 then 200", []int{502, 503, 504, 200}, "", 4, true,
			[]time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second}},
		{"429 with Retry-After", []int{429, 200}, "7", 2, true, []time.Duration{7 * time.Second}},
		{"Retry-After is capped", []int{503, 200}, "3600", 2, true, []time.Duration{time.Minute}},
		{"5 × 500 gives up", []int{500, 500, 500, 500, 500, 200}, "", 5, false,
			[]time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}},
		{"400 gives up at once", []int{400, 200}, "", 1, false, nil},
		{"404 gives up at once", []int{404, 200}, "", 1, false, nil},
		{"a redirect is not followed", []int{302, 200}, "", 1, false, nil},
		{"204 is delivered", []int{204}, "", 1, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, tc.statuses...)
			if tc.retryAfter != "" {
				rcv.header.Set("Retry-After", tc.retryAfter)
			}
			var (
				h  hookCounts
				sl sleeps
			)
			cfg := testConfig(rcv.URL)
			cfg.Hooks, cfg.Sleep = h.hooks(), sl.sleep
			n := newNotifier(t, cfg)
			run(t, n)
			n.Enqueue(testAlert())
			testutil.Eventually(t, 5*time.Second, "the outcome", func() bool {
				return h.get("delivered", rcv.URL)+h.get("failed", rcv.URL) == 1
			})
			if got := int(rcv.attempts.Load()); got != tc.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tc.wantAttempts)
			}
			if got := h.get("delivered", rcv.URL) == 1; got != tc.wantDelivered {
				t.Errorf("delivered = %v, want %v", got, tc.wantDelivered)
			}
			if got := sl.all(); !reflect.DeepEqual(got, tc.wantSleeps) {
				t.Errorf("backoff waits = %v, want %v", got, tc.wantSleeps)
			}
		})
	}
}

func TestNotifierNetworkErrorRetries(t *testing.T) {
	t.Parallel()
	// A listener that hangs up on every connection: each attempt is a
	// network error.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	dead := struct{ URL string }{"http://" + ln.Addr().String()}
	var (
		h  hookCounts
		sl sleeps
	)
	cfg := testConfig(dead.URL)
	cfg.Hooks, cfg.Sleep, cfg.MaxAttempts = h.hooks(), sl.sleep, 3
	n := newNotifier(t, cfg)
	run(t, n)
	n.Enqueue(testAlert())
	testutil.Eventually(t, 5*time.Second, "giving up", func() bool { return h.get("failed", dead.URL) == 1 })
	if got := len(sl.all()); got != 2 || conns.Load() != 3 {
		t.Errorf("%d backoff waits and %d connections, want 2 and 3", got, conns.Load())
	}
}

func TestNotifierBackoff(t *testing.T) {
	t.Parallel()
	for _, jitter := range []float64{0, 0.999999} {
		cfg := testConfig()
		cfg.Jitter = func() float64 { return jitter }
		n := newNotifier(t, cfg)
		for attempt, full := range []time.Duration{0, 1, 2, 4, 8, 16, 32, 60, 60, 60} {
			if attempt == 0 {
				continue
			}
			full *= time.Second
			got := n.backoff(attempt)
			if got < full/2 || got > full {
				t.Errorf("jitter %v: backoff(%d) = %v, want in [%v, %v]", jitter, attempt, got, full/2, full)
			}
		}
		if got := n.backoff(1000); got < 30*time.Second || got > time.Minute {
			t.Errorf("backoff(1000) = %v, want capped at 1m", got)
		}
	}
}

func TestNotifierFullQueueDrops(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	var h hookCounts
	cfg := testConfig(rcv.URL)
	cfg.QueueSize, cfg.Hooks = 2, h.hooks()
	n := newNotifier(t, cfg) // not running: nothing leaves the queue
	var accepted int
	for range 5 {
		if n.Enqueue(testAlert()) {
			accepted++
		}
	}
	if accepted != 2 || n.Dropped() != 3 || h.get("dropped", rcv.URL) != 3 {
		t.Fatalf("accepted %d, dropped %d (hook %d), want 2 and 3", accepted, n.Dropped(), h.get("dropped", rcv.URL))
	}
	// Once running, the queued two are delivered.
	run(t, n)
	testutil.Eventually(t, 5*time.Second, "the queued alerts", func() bool { return h.get("delivered", rcv.URL) == 2 })
}

func TestNotifierHangingReceiverDoesNotBlockEnqueue(t *testing.T) {
	t.Parallel()
	srv, arrived, release := hanging(t)
	var h hookCounts
	cfg := testConfig(srv.URL)
	cfg.QueueSize, cfg.Hooks, cfg.Timeout = 3, h.hooks(), time.Hour
	n := newNotifier(t, cfg)
	stop := run(t, n)

	n.Enqueue(testAlert())
	<-arrived // the worker is stuck in its first request

	done := make(chan int)
	go func() {
		accepted := 0
		for range 10 {
			if n.Enqueue(testAlert()) {
				accepted++
			}
		}
		done <- accepted
	}()
	select {
	case accepted := <-done:
		if accepted != 3 || n.Dropped() != 7 {
			t.Errorf("accepted %d, dropped %d, want 3 and 7", accepted, n.Dropped())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Enqueue blocked on a hanging receiver")
	}

	release()
	stop() // drains the three queued
	if got := h.get("delivered", srv.URL); got != 4 {
		t.Errorf("delivered %d after release, want 4", got)
	}
}

// TestNotifierURLsAreIndependent: a hanging URL and a failing one do not
// hold up a healthy one, and each gets every alert.
func TestNotifierURLsAreIndependent(t *testing.T) {
	t.Parallel()
	good := newReceiver(t)
	failing := newReceiver(t, 500, 500, 500, 500, 500, 500, 500, 500, 500)
	stuck, arrived, release := hanging(t)
	var h hookCounts
	cfg := testConfig(stuck.URL, failing.URL, good.URL)
	cfg.Hooks, cfg.MaxAttempts, cfg.Timeout = h.hooks(), 3, time.Hour
	cfg.Sleep = func(context.Context, time.Duration) error { return nil }
	n := newNotifier(t, cfg)
	stop := run(t, n)

	const alerts = 3
	for range alerts {
		if !n.Enqueue(testAlert()) {
			t.Fatal("Enqueue = false")
		}
	}
	<-arrived
	testutil.Eventually(t, 5*time.Second, "the healthy URL's deliveries", func() bool { return h.get("delivered", good.URL) == alerts })
	testutil.Eventually(t, 5*time.Second, "the failing URL's failures", func() bool { return h.get("failed", failing.URL) == alerts })
	if got := failing.attempts.Load(); got != 3*alerts {
		t.Errorf("failing URL saw %d attempts, want %d", got, 3*alerts)
	}
	if got := h.get("delivered", failing.URL); got != 0 {
		t.Errorf("failing URL delivered %d", got)
	}
	release()
	testutil.Eventually(t, 5*time.Second, "the stuck URL's deliveries", func() bool { return h.get("delivered", stuck.URL) == alerts })
	stop()
}

func TestNotifierDrainsOnShutdown(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 503) // one retry during the drain
	var h hookCounts
	cfg := testConfig(rcv.URL)
	cfg.Hooks = h.hooks()
	cfg.Sleep = func(context.Context, time.Duration) error { return nil }
	n := newNotifier(t, cfg)
	for range 3 {
		n.Enqueue(testAlert())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already shutting down
	if err := n.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := h.get("delivered", rcv.URL); got != 3 {
		t.Errorf("delivered %d queued alerts on shutdown, want 3", got)
	}
	if n.Enqueue(testAlert()) || n.Dropped() != 1 {
		t.Errorf("Enqueue after Run: dropped %d, want refused and 1", n.Dropped())
	}
	if err := n.Run(context.Background()); err == nil {
		t.Error("a second Run returned nil")
	}
}

func TestNotifierDrainGraceEnds(t *testing.T) {
	t.Parallel()
	srv, arrived, _ := hanging(t)
	var h hookCounts
	cfg := testConfig(srv.URL)
	cfg.Hooks, cfg.Timeout, cfg.DrainGrace = h.hooks(), time.Hour, 20*time.Millisecond
	n := newNotifier(t, cfg)
	stop := run(t, n)
	for range 3 {
		n.Enqueue(testAlert())
	}
	<-arrived
	stop() // fails the test if Run hangs with the receiver
	// The one in flight failed; the two queued were dropped.
	if f, d := h.get("failed", srv.URL), h.get("dropped", srv.URL); f != 1 || d != 2 {
		t.Errorf("failed %d, dropped %d, want 1 and 2", f, d)
	}
}

func TestNewNotifierRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ftp://example.com/x", "/hooks/secret", "http:///secret", "example.com/secret", "http://exa mple.com/secret"} {
		_, err := NewNotifier(testConfig("https://ok.example.com/", u))
		if err == nil {
			t.Errorf("NewNotifier(%q) = nil error", u)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the URL's path", err)
		}
	}
	n, err := NewNotifier(WebhookConfig{}) // no URLs: enqueue is a no-op
	if err != nil || !n.Enqueue(testAlert()) {
		t.Errorf("notifier without URLs: %v", err)
	}
}

func TestToAPI(t *testing.T) {
	t.Parallel()
	a := testAlert()
	got := ToAPI(a)
	if got.AckedAt == nil || !got.AckedAt.Equal(*a.AckedAt) || got.AckedAt.Location() != time.UTC {
		t.Errorf("AckedAt = %v", got.AckedAt)
	}
	a.AckedAt = nil
	if got := ToAPI(a); got.AckedAt != nil || got.ID != a.ID || got.Limit != a.Limit || got.Threshold != 80 {
		t.Errorf("ToAPI = %+v", got)
	}
}
