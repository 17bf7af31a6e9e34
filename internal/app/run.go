package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

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
	// MetricsListener serves /metrics alone when cfg.MetricsListen is set
	// (the API's listener then answers it 404), else nil.
	MetricsListener net.Listener

	closeLimiter func() error
	stopNotifier func() // cancels the notifier's loops and waits for them
	closeOnce    sync.Once
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
// cfg.RedisURL is set), the Sentry client (when cfg.SentryDSN is set), the
// notifier (PostgreSQL: LISTEN/NOTIFY across replicas) and the API with its
// metrics, and binds the listen address. The caller owns the Server: Serve
// closes it when it returns; Close releases it without serving.
func Prepare(ctx context.Context, cfg config.Server, log *slog.Logger) (*Server, error) {
	st, desc, err := OpenMigrated(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, Store: st, StoreDSN: desc, Log: log}
	fail := func(err error) (*Server, error) {
		s.Close()
		return nil, err
	}
	if err := ReportRowSecurity(ctx, st, log); err != nil {
		return fail(err)
	}
	if s.Secret, err = LoadSecret(cfg.Secret, cfg.DataDir); err != nil {
		return fail(err)
	}
	if cfg.AdminKey != "" {
		if _, err := EnsureOperatorKey(ctx, st, s.Secret, cfg.AdminKey, "bootstrap", time.Now()); err != nil {
			return fail(fmt.Errorf("BATON_ADMIN_KEY: %w", err))
		}
	}
	s.Metrics = prometheus.NewRegistry()
	if s.Limiter, s.closeLimiter, err = NewLimiter(ctx, cfg.RedisURL, log, s.Metrics); err != nil {
		return fail(err)
	}
	if s.Sentry, err = server.NewSentry(server.SentryOptions{DSN: cfg.SentryDSN, Release: version.Get().Version}); err != nil {
		return fail(fmt.Errorf("sentry_dsn: %w", err))
	}
	var notifier tasks.Notifier
	var authBus auth.Bus
	if pg, ok := st.(*postgres.Store); ok {
		// The notifier's loops run until Close, not until ctx: requests
		// still in flight during shutdown notify through it.
		nctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		n := pg.Notifier(nctx, log) // a submit on one replica wakes claimers on all
		s.stopNotifier = func() { stop(); n.Wait() }
		notifier, authBus = n, pg // a revoke on one replica drops the key from every cache
	}
	s.API, err = server.New(server.Config{Store: st, Secret: s.Secret, Tiers: cfg.Tiers, DefaultTier: cfg.DefaultTier,
		Logger: log, Version: version.Get().Version, Limiter: s.Limiter,
		RateLimits: server.RateLimits{TrustedProxies: cfg.TrustedProxies},
		Notifier:   notifier, AuthBus: authBus, Lease: cfg.Lease, HeartbeatInterval: cfg.HeartbeatInterval,
		Metrics: s.Metrics, Sentry: s.Sentry,
		MetricsToken: cfg.MetricsToken, MetricsElsewhere: cfg.MetricsListen != "", MetricsCache: 2 * time.Second,
		Rates:         metering.Rates{ExecutionSecondMicros: cfg.Cost.ExecutionSecondMicros, APICallMicros: cfg.Cost.APICallMicros},
		AlertWebhooks: webhookURLs(cfg.AlertWebhookURL)})
	if err != nil {
		return fail(err)
	}
	if cfg.PprofListen != "" {
		if s.Pprof, err = ListenPprof(cfg.PprofListen, cfg.PprofAllowRemote); err != nil {
			return fail(err)
		}
	}
	if cfg.MetricsListen != "" {
		if s.MetricsListener, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			return fail(fmt.Errorf("metrics listen on %s: %w", cfg.MetricsListen, err))
		}
	}
	if s.Listener, err = net.Listen("tcp", cfg.Listen); err != nil {
		return fail(fmt.Errorf("listen on %s: %w", cfg.Listen, err))
	}
	return s, nil
}

// URL is the base URL clients reach the server at.
func (s *Server) URL() string { return "http://" + s.Listener.Addr().String() }

// Serve serves until ctx is done and shuts down in order: the HTTP server
// drains its requests; then the background loops (the lease reaper, metered
// API calls, alerts, auth cache flushes) are stopped and waited for, so
// their last flush sees every request; then Close releases the notifier,
// Sentry, the rate limiter and the store. Every loop Serve starts has
// ended when it returns.
func (s *Server) Serve(ctx context.Context) error {
	defer s.Close()
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
	if s.MetricsListener != nil {
		metricsCtx, stopMetrics := context.WithCancel(ctx)
		metricsDone := make(chan struct{})
		go func() {
			defer close(metricsDone)
			serveAux(metricsCtx, s.MetricsListener, s.API.MetricsHandler(), "metrics", "/metrics", s.Log)
		}()
		defer func() { stopMetrics(); <-metricsDone }()
	}
	// The loops outlive ctx until the HTTP server has drained.
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	defer stopLoops()
	var loops errgroup.Group
	loops.Go(func() error {
		s.API.Tasks().RunReaper(loopCtx, reaperInterval(s.Config.Lease))
		return nil
	})
	loops.Go(func() error {
		s.API.RunBackground(loopCtx)
		return nil
	})
	err := server.Serve(ctx, s.Listener, s.API, s.Log, timeout)
	stopLoops()
	_ = loops.Wait()
	s.Log.Info("baton server stopped")
	return err
}

// Close releases what Prepare made, in reverse order: the notifier's
// loops (waited for), Sentry (flushed), the rate limiter's Redis client,
// the listener and the store. It is safe to call more than once, and on a
// Server that Prepare left half-built; Serve calls it.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if s.stopNotifier != nil {
			s.stopNotifier()
		}
		if s.Sentry != nil {
			s.Sentry.Flush(5 * time.Second)
			s.Sentry.Close()
		}
		var errs []error
		if s.closeLimiter != nil {
			errs = append(errs, s.closeLimiter())
		}
		if s.Pprof != nil {
			s.Pprof.Close() // a no-op error when ServePprof closed it already
		}
		if s.MetricsListener != nil {
			s.MetricsListener.Close()
		}
		if s.Listener != nil {
			if cerr := s.Listener.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				errs = append(errs, cerr)
			}
		}
		if s.Store != nil {
			errs = append(errs, s.Store.Close())
		}
		err = errors.Join(errs...)
	})
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
