// Package server is baton's HTTP API: New builds an http.Handler over a
// store; Serve runs it with graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

// Config holds the server's dependencies and settings.
type Config struct {
	Store       store.Store
	Secret      []byte              // HMAC and JWT secret; required
	Tiers       map[string]api.Tier // required, non-empty
	DefaultTier string              // tier of new workspaces when none is given
	Logger      *slog.Logger        // slog.Default() when nil
	Now         func() time.Time    // time.Now when nil
	Version     string
	// MaxBodyBytes caps request bodies (default 1 MiB).
	MaxBodyBytes int64
	// RequestTimeout bounds a request's work, store calls included
	// (default 30 s). Long polls and event streams bound themselves.
	RequestTimeout time.Duration
	// Limiter decides rate limits: a ratelimit.Fallback over Redis when
	// several replicas share the load; an in-memory limiter on Now when nil.
	Limiter ratelimit.Limiter
	// RateLimits are the policies beyond the tiers' requests_per_minute
	// and burst; zero fields take DefaultRateLimits' values.
	RateLimits RateLimits
	// AuthBus carries the auth cache's invalidations between replicas
	// (the PostgreSQL store); nil on one process. AuthCacheTTL bounds how
	// long a cached key or workspace is used without it (5 s when 0).
	AuthBus      auth.Bus
	AuthCacheTTL time.Duration
	// Notifier wakes claimers, event followers and usage streams by topic:
	// LISTEN/NOTIFY with PostgreSQL (every replica), in-process when nil.
	Notifier tasks.Notifier
	// Lease and HeartbeatInterval of worker claims (30 s and 5 s when 0).
	Lease             time.Duration
	HeartbeatInterval time.Duration
	// ClaimPoll bounds a claimer's sleep between store checks (1 s when 0).
	ClaimPoll time.Duration
	// Metrics gets the server's metrics and is what GET /metrics serves
	// (metrics.go lists them); a fresh registry when nil.
	Metrics Registry
	// MetricsToken, when set, is the bearer token GET /metrics requires
	// (BATON_METRICS_TOKEN); MetricsElsewhere answers the API's /metrics
	// 404 because MetricsHandler is served on a listener of its own
	// (--metrics-listen).
	MetricsToken     string
	MetricsElsewhere bool
	// MetricsCache is how long a scrape's queue counts are reused by the
	// next scrapes (0: read every scrape), so many scrapers cost the store
	// one read per period. baton server uses 2 s.
	MetricsCache time.Duration
	// Sentry, when set, receives panics and 5xx errors (see NewSentry);
	// nil reports nothing.
	Sentry *sentry.Client
	// Rates is the cost model of GET /v1/admin/costs.
	Rates metering.Rates
	// MeterFlush is how often metered API calls are written (1 s when 0);
	// RunBackground does it.
	MeterFlush time.Duration
	// AlertEvery is how often RunBackground evaluates alerts (30 s when 0).
	AlertEvery time.Duration
	// RetentionEvery is how often RunBackground prunes events past their
	// workspace's event_retention_days (1 h when 0).
	RetentionEvery time.Duration
	// AlertWebhooks get every new alert as a JSON POST, with retries.
	AlertWebhooks []string
	// Webhook tunes their delivery (tests); URLs, Logger and Hooks are set
	// by New.
	Webhook metering.WebhookConfig
}

// Server is the baton HTTP API. It implements http.Handler.
type Server struct {
	cfg      Config
	store    store.Store
	hasher   auth.Hasher
	sessions *auth.Sessions
	log      *slog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	routes   []route
	limiter  ratelimit.Limiter
	rl       RateLimits
	tasks    *tasks.Service
	streams  *streamCap
	keys     *auth.Cache   // keys and workspaces of authentication
	failing  *failingAddrs // addresses that failed authentication lately
	draining atomic.Bool
	// closing is closed by Drain: open event streams end, so a shutdown
	// is not held up by clients following tasks (they reconnect elsewhere).
	closing   chan struct{}
	closeOnce sync.Once

	metrics        *metrics
	metricsHandler http.Handler
	queueStats     queueStatsCache

	// recorder meters API calls; its flushes wake usage streams.
	recorder  *metering.Recorder
	evaluator *metering.Evaluator
	notifier  *metering.Notifier // nil without webhooks
}

// New returns a Server. Errors: a missing store, secret or tiers; an
// invalid rate limit in cfg.RateLimits; a metric already registered in
// cfg.Metrics (one registry per server).
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("server: no store")
	case len(cfg.Secret) < 16:
		return nil, errors.New("server: secret must be at least 16 bytes")
	case len(cfg.Tiers) == 0:
		return nil, errors.New("server: no tiers")
	}
	if _, ok := cfg.Tiers[cfg.DefaultTier]; !ok {
		return nil, errors.New("server: default tier " + cfg.DefaultTier + " is not a tier")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tiers := make(map[string]api.Tier, len(cfg.Tiers))
	for name, t := range cfg.Tiers {
		t.Name = name
		tiers[name] = t
	}
	cfg.Tiers = tiers
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewMemory(ratelimit.MemoryOptions{Now: cfg.Now})
	}
	var err error
	if cfg.RateLimits, err = cfg.RateLimits.withDefaults(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		store:    cfg.Store,
		hasher:   auth.NewHasher(cfg.Secret),
		streams:  newStreamCap(),
		sessions: auth.NewSessions(cfg.Secret, cfg.Now),
		log:      cfg.Logger,
		now:      func() time.Time { return cfg.Now().UTC() },
		mux:      http.NewServeMux(),
		closing:  make(chan struct{}),
		limiter:  cfg.Limiter,
		rl:       cfg.RateLimits,
		metrics:  newMetrics(),
	}
	if err := s.register(cfg.Metrics); err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	if err := s.initAuth(); err != nil {
		return nil, fmt.Errorf("server: metrics: %w", err)
	}
	s.metricsHandler = s.newMetricsHandler()
	s.tasks = tasks.New(tasks.Config{Store: cfg.Store, Notifier: cfg.Notifier, Lease: cfg.Lease,
		HeartbeatInterval: cfg.HeartbeatInterval, Poll: cfg.ClaimPoll, Now: cfg.Now, Log: cfg.Logger,
		Limits: s.limits,
		Hooks: tasks.Hooks{Transition: s.transition, Expired: s.leaseExpired,
			QuotaRefused: func(q string) { s.metrics.quotaRejections.WithLabelValues(quotaLabel(q)).Inc() },
			LogsDropped:  func(n int) { s.metrics.logsDropped.Add(float64(n)) },
			AlertRaised:  s.alertRaised}})
	s.recorder = metering.NewRecorder(metering.RecorderConfig{Store: cfg.Store, FlushEvery: cfg.MeterFlush,
		Now: cfg.Now, Log: cfg.Logger,
		OnFlush: func(workspaces []string) {
			topics := make([]string, len(workspaces))
			for i, ws := range workspaces {
				topics[i] = tasks.WorkspaceTopic(ws)
			}
			s.tasks.Notify(context.Background(), topics...)
		}})
	s.evaluator = metering.NewEvaluator(metering.EvaluatorConfig{Store: cfg.Store, Now: cfg.Now, Log: cfg.Logger, OnRaised: s.alertRaised})
	if len(cfg.AlertWebhooks) > 0 {
		wc := cfg.Webhook
		wc.URLs, wc.Logger = cfg.AlertWebhooks, cfg.Logger
		wc.Hooks = metering.WebhookHooks{
			Delivered: func(string) { s.metrics.webhooks.WithLabelValues("delivered").Inc() },
			Failed:    func(string) { s.metrics.webhooks.WithLabelValues("failed").Inc() },
			Dropped:   func(string) { s.metrics.webhooks.WithLabelValues("dropped").Inc() },
		}
		if s.notifier, err = metering.NewNotifier(wc); err != nil {
			return nil, fmt.Errorf("server: alert webhooks: %w", err)
		}
	}
	if cfg.AlertEvery <= 0 {
		s.cfg.AlertEvery = 30 * time.Second
	}
	if cfg.RetentionEvery <= 0 {
		s.cfg.RetentionEvery = time.Hour
	}
	s.routes = s.routeTable()
	for i, rt := range s.routes {
		rt = withLimitClass(rt)
		rt.noStore = carriesSecret(reflect.TypeOf(rt.response))
		s.routes[i] = rt
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	return s, nil
}

// ServeHTTP serves the API. Requests that match no route get a problem
// body (404, or 405 with Allow) rather than the mux's plain text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer is JSON, problem+json, an event stream or the docs
	// page: a browser must never sniff one into something else.
	w.Header()["X-Content-Type-Options"] = nosniffValue
	r = withRequestID(w, r)
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		start := time.Now()
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		p := api.Errorf(api.CodeNotFound, "no route %s %s", r.Method, r.URL.Path)
		if loneSlashSegment(r.URL.EscapedPath()) {
			p = validation([]api.FieldError{{Field: "path", Message: `a path segment is a lone "/" (%2F), which no route takes: a step key or an id is never "/"`}}).(*api.Problem)
		}
		if rec.status == http.StatusMethodNotAllowed {
			p = api.Errorf(api.CodeInvalidRequest, "method %s is not allowed on %s", r.Method, r.URL.Path)
			p.Status = http.StatusMethodNotAllowed
			w.Header().Set("Allow", rec.header.Get("Allow"))
		}
		writeProblem(w, r, p)
		s.observeRequest(unmatchedRoute, knownMethod(r.Method), p.Status, time.Since(start))
		return
	}
	s.mux.ServeHTTP(w, r) // sets the path values that Handler does not
}

// loneSlashSegment reports whether a segment of escaped path p unescapes
// to "/" alone. Go's ServeMux never matches such a segment to a wildcard
// (it reads it as a trailing slash), so a step key "/" would be a 404 of
// no route: found by FuzzStepKey.
func loneSlashSegment(p string) bool {
	for seg := range strings.SplitSeq(p, "/") {
		if strings.EqualFold(seg, "%2F") {
			return true
		}
	}
	return false
}

// RunBackground runs the server's background work until ctx ends: it
// prunes events past retention every RetentionEvery, writes metered API
// calls every MeterFlush (and once more at the end),
// runs the auth cache (other replicas' changes, keys' last-used times),
// evaluates alerts every AlertEvery, and delivers them to the webhooks
// (draining what is queued for a few seconds at the end).
func (s *Server) RunBackground(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.recorder.Run(ctx) })
	wg.Go(func() { s.keys.Run(ctx) })
	wg.Go(func() { s.tasks.RunRetention(ctx, s.cfg.RetentionEvery) })
	if s.notifier != nil {
		wg.Go(func() { _ = s.notifier.Run(ctx) })
	}
	wg.Go(func() {
		t := time.NewTicker(s.cfg.AlertEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.EvaluateAlerts(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("alerts: evaluation failed", "err", scrub(err.Error()))
				}
			}
		}
	})
	wg.Wait()
}

// FlushUsage writes the API calls metered so far and the keys' last-used
// times (tests, shutdown).
func (s *Server) FlushUsage(ctx context.Context) error {
	return errors.Join(s.recorder.Flush(ctx), s.keys.FlushTouches(ctx))
}

// Tasks is the server's task service (its reaper is run by the caller:
// Tasks().RunReaper).
func (s *Server) Tasks() *tasks.Service { return s.tasks }

// Drain marks the server as draining: /readyz answers 503 so load balancers
// stop sending traffic while in-flight requests finish, and open event
// streams end (their clients resume with Last-Event-ID elsewhere).
func (s *Server) Drain() {
	s.draining.Store(true)
	s.closeOnce.Do(func() { close(s.closing) })
}

// tier returns the named tier, or the default tier when the name is unknown
// (a tier removed from the config after workspaces were put on it).
func (s *Server) tier(name string) api.Tier {
	if t, ok := s.cfg.Tiers[name]; ok {
		return t
	}
	return s.cfg.Tiers[s.cfg.DefaultTier]
}

// tierNames returns the configured tiers' names, sorted.
func (s *Server) tierNames() []string {
	names := make([]string, 0, len(s.cfg.Tiers))
	for n := range s.cfg.Tiers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// statusRecorder captures the status a fallback handler would write.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.status = code }

// ctxKey keys request-scoped values.
type ctxKey int

const (
	ctxRequestID ctxKey = iota
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}
