package app

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ratelimit"
)

func TestNewLimiterInMemoryWithoutRedis(t *testing.T) {
	l, closeFn, err := NewLimiter(context.Background(), "", slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if _, ok := l.(*ratelimit.Memory); !ok {
		t.Fatalf("limiter is %T, want *ratelimit.Memory", l)
	}
}

func TestNewLimiterBadURLHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://user:secret@host:6379/notadb", "redis://user:sec ret@host", "http://user:secret@host"} {
		_, _, err := NewLimiter(context.Background(), u, slog.New(slog.DiscardHandler), nil)
		if err == nil || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "sec ret") || !strings.HasPrefix(err.Error(), "redis_url: ") {
			t.Errorf("NewLimiter(%q) error = %v", u, err)
		}
	}
}

// serveWithRedis prepares and serves a server with cfg.RedisURL = url and
// returns it with its operator key; the server stops when the test ends.
func serveWithRedis(t *testing.T, url string) (*Server, string) {
	t.Helper()
	cfg := testConfig(t)
	cfg.RedisURL = url
	cfg.AdminKey, _ = auth.NewKey(auth.OperatorPrefix)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Prepare(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return s, cfg.AdminKey
}

func getMe(t *testing.T, s *Server, key string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL()+"/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func fallbacks(t *testing.T, s *Server) float64 {
	t.Helper()
	mfs, err := s.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "baton_ratelimit_fallback_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no baton_ratelimit_fallback_total in the server's registry")
	return 0
}

func TestPrepareWithRedisDownStillLimits(t *testing.T) {
	s, key := serveWithRedis(t, "redis://127.0.0.1:1/0")
	res := getMe(t, s, key)
	if res.StatusCode != 200 || res.Header.Get("RateLimit-Policy") != `"default";q=6000;w=60` {
		t.Fatalf("status %d, RateLimit-Policy %q", res.StatusCode, res.Header.Get("RateLimit-Policy"))
	}
	f, ok := s.Limiter.(*ratelimit.Fallback)
	if !ok || !f.Degraded() {
		t.Fatalf("limiter %T, want a degraded *ratelimit.Fallback", s.Limiter)
	}
	if n := fallbacks(t, s); n < 1 {
		t.Errorf("baton_ratelimit_fallback_total = %v", n)
	}
}

func TestPrepareWithRedis(t *testing.T) {
	url := os.Getenv("BATON_TEST_REDIS_URL")
	if url == "" {
		t.Skip("BATON_TEST_REDIS_URL is not set")
	}
	s, key := serveWithRedis(t, url)
	res := getMe(t, s, key)
	if res.StatusCode != 200 || res.Header.Get("RateLimit") == "" {
		t.Fatalf("status %d, RateLimit %q", res.StatusCode, res.Header.Get("RateLimit"))
	}
	f, ok := s.Limiter.(*ratelimit.Fallback)
	if !ok || f.Degraded() {
		t.Fatalf("limiter %T (degraded: %v), want a *ratelimit.Fallback on Redis", s.Limiter, ok && f.Degraded())
	}
	if n := fallbacks(t, s); n != 0 {
		t.Errorf("baton_ratelimit_fallback_total = %v with Redis up", n)
	}
}
