package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/server"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/internal/version"
	"github.com/genericcorp/baton/pkg/config"
)

// Server is a prepared server process: store open and migrated, secret
// loaded, listener bound. Call Serve to run it.
type Server struct {
	Config   config.Server
	Store    Store
	StoreDSN string // a description of the store, for logs
	Secret   []byte
	API      *server.Server
	Listener net.Listener
	Log      *slog.Logger
	// Metrics is the server's Prometheus registry (not the global one),
	// served at GET /metrics: the API's metrics, the store's pool, Go
	// runtime and process, and baton_ratelimit_fallback_total when Redis
	// is configured.
	Metrics *prometheus.Registry
	// Sentry receives panics and 5xx errors when SENTRY_DSN is set; nil
	// otherwise. Serve flushes it on shutdown.
	Sentry *sentry.Client
	// Limiter is the API's rate limiter: in memory, or a
	// ratelimit.Fallback over Redis when cfg.RedisURL is set.
	Limiter ratelimit.Limiter
	// Pprof is the profiling listener when cfg.PprofListen is set, else nil.
	Pprof net.Listener

	closeLimiter func() error
}

// NewLogger returns the server's logger: JSON or text on w.
func NewLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// Prepare opens and migrates the store, loads the secret, bootstraps
// BATON_ADMIN_KEY if set, builds the rate limiter (Redis-backed when
// cfg.RedisURL is set), the Sentry client (when cfg.SentryDSN is set) and
// the API with its metrics, and binds the listen address.
func Prepare(ctx context.Context, cfg config.Server, log *slog.Logger) (*Server, error) {
	st, desc, err := OpenMigrated(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		st.Close()
		return nil, err
	}
	secret, err := LoadSecret(cfg.Secret, cfg.DataDir)
	if err != nil {
		return fail(err)
	}
	if cfg.AdminKey != "" {
		if _, err := EnsureOperatorKey(ctx, st, secret, cfg.AdminKey, "bootstrap", time.Now()); err != nil {
			return fail(fmt.Errorf("BATON_ADMIN_KEY: %w", err))
		}
	}
	metrics := prometheus.NewRegistry()
	limiter, closeLimiter, err := NewLimiter(ctx, cfg.RedisURL, log, metrics)
	if err != nil {
		return fail(err)
	}
	fail = func(err error) (*Server, error) {
		closeLimiter()
		st.Close()
		return nil, err
	}
	reporter, err := server.NewSentry(server.SentryOptions{DSN: cfg.SentryDSN, Release: version.Get().Version})
	if err != nil {
		return fail(fmt.Errorf("sentry_dsn: %w", err))
	}
	var notifier tasks.Notifier
	var authBus auth.Bus
	if pg, ok := st.(*postgres.Store); ok {
		notifier = pg.Notifier(ctx, log) // a submit on one replica wakes claimers on all
		authBus = pg                     // a revoke on one replica drops the key from every cache
	}
	api, err := server.New(server.Config{Store: st, Secret: secret, Tiers: cfg.Tiers, DefaultTier: cfg.DefaultTier,
		Logger: log, Version: version.Get().Version, Limiter: limiter,
		RateLimits: server.RateLimits{TrustedProxies: cfg.TrustedProxies},
		Notifier:   notifier, AuthBus: authBus, Lease: cfg.Lease, HeartbeatInterval: cfg.HeartbeatInterval,
		Metrics: metrics, Sentry: reporter,
		Rates:         metering.Rates{ExecutionSecondMicros: cfg.Cost.ExecutionSecondMicros, APICallMicros: cfg.Cost.APICallMicros},
		AlertWebhooks: webhookURLs(cfg.AlertWebhookURL)})
	if err != nil {
		return fail(err)
	}
	var pprofLn net.Listener
	if cfg.PprofListen != "" {
		if pprofLn, err = ListenPprof(cfg.PprofListen, cfg.PprofAllowRemote); err != nil {
			return fail(err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		if pprofLn != nil {
			pprofLn.Close()
		}
		return fail(fmt.Errorf("listen on %s: %w", cfg.Listen, err))
	}
	return &Server{Config: cfg, Store: st, StoreDSN: desc, Secret: secret, API: api, Listener: ln, Log: log,
		Metrics: metrics, Sentry: reporter, Limiter: limiter, Pprof: pprofLn, closeLimiter: closeLimiter}, nil
}

// URL is the base URL clients reach the server at.
func (s *Server) URL() string { return "http://" + s.Listener.Addr().String() }

// Serve serves until ctx is done, shuts down gracefully, flushes the
// Sentry events still queued, and closes the store and the rate limiter's
// Redis client.
func (s *Server) Serve(ctx context.Context) error {
	defer s.Store.Close()
	if s.closeLimiter != nil {
		defer s.closeLimiter()
	}
	if s.Sentry != nil {
		defer s.Sentry.Close()
		defer s.Sentry.Flush(5 * time.Second)
	}
	s.Log.Info("baton server listening", "url", s.URL(), "store", s.StoreDSN, "version", version.Get().Version)
	timeout := s.Config.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if s.Pprof != nil {
		pprofCtx, stopPprof := context.WithCancel(ctx)
		pprofDone := make(chan struct{})
		go func() { defer close(pprofDone); ServePprof(pprofCtx, s.Pprof, s.Log) }()
		defer func() { stopPprof(); <-pprofDone }()
	}
	reapCtx, stopReaper := context.WithCancel(ctx)
	defer stopReaper()
	go s.API.Tasks().RunReaper(reapCtx, reaperInterval(s.Config.Lease))
	// Background work (metered API calls, alerts) stops after the last
	// request, so its final flush sees every call.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() { defer close(bgDone); s.API.RunBackground(bgCtx) }()
	err := server.Serve(ctx, s.Listener, s.API, s.Log, timeout)
	stopBackground()
	<-bgDone
	s.Log.Info("baton server stopped")
	return err
}

// reaperInterval checks for expired leases several times per lease, so a
// dead worker's task is back in the queue soon after its lease ends.
func reaperInterval(lease time.Duration) time.Duration {
	if lease <= 0 {
		return 5 * time.Second
	}
	return max(lease/6, 100*time.Millisecond)
}

// webhookURLs splits BATON_ALERT_WEBHOOK_URL: one URL or several,
// comma-separated.
func webhookURLs(v string) []string {
	var out []string
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
