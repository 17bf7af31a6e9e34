package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestServedMetrics: a prepared server serves /metrics from its registry:
// the API's metrics, the SQLite pools, the Go runtime, and the Redis
// fallback's counter when Redis is configured (here unreachable).
func TestServedMetrics(t *testing.T) {
	s, key := serveWithRedis(t, "redis://127.0.0.1:1/0")
	getMe(t, s, key)
	res, err := http.Get(s.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, body)
	}
	for _, want := range []string{
		`baton_http_requests_total{method="GET",route="/v1/me",status="200"} 1`,
		`baton_db_pool_max_conns{pool="sqlite_writer"} 1`,
		`baton_ratelimit_fallback_total `,
		`baton_tasks{state="queued"} 0`,
		`baton_ready 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if s.Sentry != nil {
		t.Error("a Sentry client without SENTRY_DSN")
	}
}

// TestPrepareSentry: a DSN makes a client (flushed and closed by Serve); a
// malformed one is refused at start.
func TestPrepareSentry(t *testing.T) {
	cfg := testConfig(t)
	cfg.SentryDSN = "https://public@sentry.example.invalid/1"
	s, err := Prepare(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if s.Sentry == nil {
		t.Fatal("no Sentry client with a DSN")
	}
	s.Listener.Close()
	s.Store.Close()
	s.Sentry.Close()

	cfg = testConfig(t)
	cfg.SentryDSN = "not a dsn"
	if _, err := Prepare(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "sentry_dsn") {
		t.Fatalf("Prepare with a malformed DSN = %v", err)
	}
}
