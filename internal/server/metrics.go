package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Registry is where the server registers its metrics and what GET /metrics
// serves: a *prometheus.Registry (never the global one, so that several
// servers in one process, as in tests, do not collide).
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// unmatchedRoute is the route label of requests that match no route: the
// raw path would make the label's values unbounded.
const unmatchedRoute = "unmatched"

// Auth failure reasons (label reason of baton_auth_failures_total).
const (
	authMissing   = "missing"   // no Authorization header
	authMalformed = "malformed" // not "Bearer …", or a key with a bad format or checksum
	authUnknown   = "unknown"   // no such key (or its workspace is gone)
	authRevoked   = "revoked"
	authExpired   = "expired"
	authSession   = "session" // a session token that is invalid, expired, or whose key is gone
)

// quotaLimits are the label values of baton_quota_rejections_total: the
// limits whose quota refuses work (issue 4 counts its rejections there).
var quotaLimits = []string{"max_queued_tasks", "monthly_task_executions", "monthly_execution_seconds", "monthly_spend_usd"}

// quotaLabel is the baton_quota_rejections_total label of an api.Quota* name.
func quotaLabel(q string) string {
	switch q {
	case api.QuotaQueued:
		return "max_queued_tasks"
	case api.QuotaTaskExecutions:
		return "monthly_task_executions"
	case api.QuotaExecutionSeconds:
		return "monthly_execution_seconds"
	case api.QuotaSpend:
		return "monthly_spend_usd"
	}
	return q
}

// metrics are the server's own instruments.
type metrics struct {
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	authFailures    *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
	quotaRejections *prometheus.CounterVec
	claimDuration   prometheus.Histogram
	tasksClaimed    prometheus.Counter
	leaseExpiries   prometheus.Counter
	transitions     *prometheus.CounterVec
	alerts          *prometheus.CounterVec
	webhooks        *prometheus.CounterVec
	logsDropped     prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_http_requests_total",
			Help: "HTTP requests by route pattern, method and status."}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "baton_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern and method.", Buckets: prometheus.DefBuckets}, []string{"route", "method"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_auth_failures_total",
			Help: "Failed authentications (401) by reason."}, []string{"reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_rate_limited_total",
			Help: "Requests refused with 429 rate_limited, by the bucket that refused them."}, []string{"scope"}),
		quotaRejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_quota_rejections_total",
			Help: "Work refused because a quota is spent, by limit."}, []string{"limit"}),
		claimDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "baton_claim_duration_seconds",
			Help:    "Time from a claim request to its tasks handed out (or to none, at the end of the wait).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
		tasksClaimed: prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_tasks_claimed_total",
			Help: "Tasks handed out to workers."}),
		leaseExpiries: prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_lease_expiries_total",
			Help: "Running tasks whose lease expired (their worker died or froze)."}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_task_transitions_total",
			Help: "Task state changes made by this server, by new status."}, []string{"status"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_alerts_total",
			Help: "Alerts raised by this server, by kind (threshold, anomaly)."}, []string{"kind"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "baton_alert_webhook_deliveries_total",
			Help: "Alert webhook deliveries by result: delivered, failed (gave up after retries), dropped (queue full or shutting down)."}, []string{"result"}),
		logsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "baton_task_log_lines_dropped_total",
			Help: "Task log lines dropped because their task's max_log_bytes_per_task was used up."}),
	}
	// Every known label value starts at 0, so rates and alerts see the
	// series before the first event.
	for _, r := range []string{authMissing, authMalformed, authUnknown, authRevoked, authExpired, authSession} {
		m.authFailures.WithLabelValues(r)
	}
	for _, sc := range rateScopes {
		m.rateLimited.WithLabelValues(sc)
	}
	for _, l := range quotaLimits {
		m.quotaRejections.WithLabelValues(l)
	}
	for _, st := range api.TaskStatuses {
		m.transitions.WithLabelValues(st)
	}
	for _, k := range []string{api.AlertThreshold, api.AlertAnomaly} {
		m.alerts.WithLabelValues(k)
	}
	for _, r := range []string{"delivered", "failed", "dropped"} {
		m.webhooks.WithLabelValues(r)
	}
	return m
}

// register registers the server's metrics, the queue collector, the
// store's pool collectors (when it has any), and the Go runtime and process
// collectors on reg.
func (s *Server) register(reg prometheus.Registerer) error {
	m := s.metrics
	build := prometheus.NewGauge(prometheus.GaugeOpts{Name: "baton_build_info", Help: "Always 1; the label is the server's version.",
		ConstLabels: prometheus.Labels{"version": s.cfg.Version}})
	build.Set(1)
	cs := []prometheus.Collector{m.requests, m.duration, m.authFailures, m.rateLimited, m.quotaRejections,
		m.claimDuration, m.tasksClaimed, m.leaseExpiries, m.transitions, m.alerts, m.webhooks, m.logsDropped, s.streams.gauge, queueCollector{s}, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "baton_ready",
			Help: "1 while /readyz would answer 200: not draining, and the store answers a ping."}, s.readyValue),
	}
	if sc, ok := s.store.(interface{ Collectors() []prometheus.Collector }); ok {
		cs = append(cs, sc.Collectors()...)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// handleMetrics serves the registry in the Prometheus exposition format.
// It is public like /healthz unless a token is configured: it holds
// cross-tenant queue names and counts, so expose it to the scraper only
// (MetricsToken, or MetricsElsewhere with its own listener).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *principal) error {
	if s.cfg.MetricsElsewhere {
		return api.Errorf(api.CodeNotFound, "/metrics is served on its own listener (--metrics-listen)")
	}
	return s.serveMetrics(w, r)
}

// serveMetrics checks the metrics token, if any, and serves the registry.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.MetricsToken != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.MetricsToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="baton metrics"`)
			return api.Errorf(api.CodeUnauthenticated, "/metrics needs the bearer token in BATON_METRICS_TOKEN")
		}
	}
	s.metricsHandler.ServeHTTP(w, r)
	return nil
}

// MetricsHandler serves GET /metrics alone, with the token check, for a
// listener of its own (--metrics-listen); other paths are 404.
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			writeProblem(w, r, api.NewProblem(api.CodeNotFound, "only /metrics is served here"))
			return
		}
		if err := s.serveMetrics(w, r); err != nil {
			var p *api.Problem
			if errors.As(err, &p) {
				writeProblem(w, r, p)
			}
		}
	})
}

func (s *Server) newMetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}, ErrorHandling: promhttp.ContinueOnError})
}

// slogPrinter is promhttp's error log.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Warn("metrics", "err", v) }

// observeRequest counts one request and its latency.
func (s *Server) observeRequest(route, method string, status int, d time.Duration) {
	s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	s.metrics.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// transition counts task state changes to status.
func (s *Server) transition(status string, n int) {
	if n > 0 {
		s.metrics.transitions.WithLabelValues(status).Add(float64(n))
	}
}

// leaseExpired is the task service's Expired hook.
func (s *Server) leaseExpired(store.Task) { s.metrics.leaseExpiries.Inc() }

// readyValue is baton_ready: what /readyz would say.
func (s *Server) readyValue() float64 {
	if s.draining.Load() {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if s.store.Ping(ctx) != nil {
		return 0
	}
	return 1
}

// knownMethod bounds the method label of unmatched requests.
func knownMethod(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

// maxQueueSeries bounds the queue label: queue names are chosen by
// tenants, so beyond this many (the deepest first) the rest are summed
// into queue="_other".
const maxQueueSeries = 100

var (
	tasksDesc = prometheus.NewDesc("baton_tasks", "Tasks by state, in every workspace.", []string{"state"}, nil)
	depthDesc = prometheus.NewDesc("baton_queue_depth",
		"Queued tasks per queue (held and backing-off ones included), in every workspace.", []string{"queue"}, nil)
	ageDesc = prometheus.NewDesc("baton_queue_oldest_age_seconds",
		"Age of the oldest queued task per queue (0 when none is queued).", []string{"queue"}, nil)
)

// queueStatsCache holds the last scrape's queue counts for a while, and
// lets one scrape at a time read them: concurrent scrapers wait for the
// one reading and share its answer.
type queueStatsCache struct {
	mu    sync.Mutex
	at    time.Time
	stats []store.QueueStat
}

func (c *queueStatsCache) get(ttl time.Duration, read func(context.Context) ([]store.QueueStat, error)) ([]store.QueueStat, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ttl > 0 && !c.at.IsZero() && time.Since(c.at) < ttl {
		return c.stats, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := read(ctx)
	if err != nil {
		return nil, err
	}
	c.stats, c.at = stats, time.Now()
	return stats, nil
}

// queueCollector computes the task and queue gauges at scrape time from
// the store's QueueStats.
type queueCollector struct{ s *Server }

// Describe implements prometheus.Collector.
func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- tasksDesc
	ch <- depthDesc
	ch <- ageDesc
}

// Collect implements prometheus.Collector. A store error is logged and the
// gauges are left out of this scrape.
func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	stats, err := c.s.queueStats.get(c.s.cfg.MetricsCache, c.s.store.QueueStats)
	if err != nil {
		c.s.log.Warn("metrics: queue stats", "err", err)
		return
	}
	now := c.s.now()
	byState := map[string]int64{}
	for _, st := range api.TaskStatuses {
		byState[st] = 0
	}
	type queue struct {
		depth  int64
		oldest time.Time
	}
	// The default queue is always there, so its series exist from the start.
	queues := map[string]*queue{api.DefaultQueue: {}}
	for _, q := range stats {
		byState[q.Status] += q.Count
		qq := queues[q.Queue]
		if qq == nil {
			qq = &queue{}
			queues[q.Queue] = qq
		}
		if q.Status == api.TaskQueued {
			qq.depth, qq.oldest = q.Count, q.OldestCreatedAt
		}
	}
	for st, n := range byState {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), st)
	}
	names := make([]string, 0, len(queues))
	for n := range queues {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := queues[names[i]], queues[names[j]]
		return a.depth > b.depth || (a.depth == b.depth && names[i] < names[j])
	})
	if len(names) > maxQueueSeries {
		other := &queue{}
		for _, n := range names[maxQueueSeries:] {
			q := queues[n]
			other.depth += q.depth
			if !q.oldest.IsZero() && (other.oldest.IsZero() || q.oldest.Before(other.oldest)) {
				other.oldest = q.oldest
			}
		}
		names = append(names[:maxQueueSeries], "_other")
		queues["_other"] = other
	}
	for _, n := range names {
		q := queues[n]
		age := 0.0
		if q.depth > 0 {
			age = max(now.Sub(q.oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(q.depth), n)
		ch <- prometheus.MustNewConstMetric(ageDesc, prometheus.GaugeValue, age, n)
	}
}
