package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// withRequestID takes the caller's X-Request-Id when it is sane, or makes
// one, and echoes it on the response.
func withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	id := r.Header.Get(api.HeaderRequestID)
	if !saneRequestID(id) {
		id = ids.New(ids.Request)
	}
	w.Header()[api.HeaderRequestID] = []string{id}
	return r.WithContext(context.WithValue(r.Context(), ctxRequestID, id))
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// wrap turns a route into an http.Handler: panic recovery (logged and
// sent to Sentry), access log, request metrics, body limit, per-address
// limits, authentication, rate limits, scope check, and problem rendering.
func (s *Server) wrap(rt route) http.Handler {
	rm := &routeMetrics{route: rt.path, method: rt.method}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var p *principal
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic", append(requestAttrs(r, rt, p), "panic", scrub(fmt.Sprint(v)), "stack", string(debug.Stack()))...)
				if sw.status == 0 {
					writeProblem(sw, r, api.NewProblem(api.CodeInternal, internalDetail))
				}
				s.report(r, rt, p, sw.status, v, nil)
			}
			d := time.Since(start)
			s.logRequest(r, rt, sw.status, d, p)
			rm.observe(s.metrics, max(sw.status, http.StatusOK), d)
		}()

		if rt.noStore {
			sw.Header()["Cache-Control"] = noStoreValue
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		}
		// The request's context is made once, after authentication, which
		// is given it directly: each Request.WithContext copies the whole
		// request.
		ctx := r.Context()
		if !rt.stream {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.cfg.RequestTimeout)
			defer cancel()
		}
		err := checkRequestText(r)
		if err == nil && rt.scope != public {
			p, err = s.authenticateLimited(ctx, sw, r, rt)
			if err == nil {
				err = s.authorize(p, rt.scope)
			}
		}
		if err == nil && p != nil && !p.operator {
			// A tenant's request runs in its workspace's row-level
			// security scope (store.Tenant): on PostgreSQL a query that
			// forgets its workspace predicate still sees only this
			// workspace's rows. Operator requests are system work.
			ctx = store.Tenant(ctx, p.key.WorkspaceID)
		}
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		if err == nil {
			if p != nil && p.workspaceID != store.OperatorWorkspace {
				s.recorder.APICall(p.workspaceID, requestID(ctx))
			}
			err = rt.h(sw, r, p)
		}
		if err != nil {
			s.fail(sw, r, rt, p, err)
		}
	})
}

// Header values set on most answers, shared rather than allocated per
// response: net/http only reads them, and Header.Set or Add replaces or
// copies (their length is their capacity).
var (
	noStoreValue  = []string{"no-store"}
	nosniffValue  = []string{"nosniff"}
	jsonTypeValue = []string{"application/json"}
)

// routeMetrics are one route's request counter and latency histogram,
// looked up in their vectors at the route's first request rather than at
// every request (a label hash and a read lock each); a status other than
// 200 is still looked up each time.
type routeMetrics struct {
	route, method string
	once          sync.Once
	ok            prometheus.Counter
	duration      prometheus.Observer
}

// observe counts one request of the route and its latency.
func (rm *routeMetrics) observe(m *metrics, status int, d time.Duration) {
	rm.once.Do(func() {
		rm.ok = m.requests.WithLabelValues(rm.route, rm.method, "200")
		rm.duration = m.duration.WithLabelValues(rm.route, rm.method)
	})
	if status == http.StatusOK {
		rm.ok.Inc()
	} else {
		m.requests.WithLabelValues(rm.route, rm.method, strconv.Itoa(status)).Inc()
	}
	rm.duration.Observe(d.Seconds())
}

// statusClientClosed is the status of a request whose client left before
// the answer (nginx's 499).
const statusClientClosed = 499

// fail renders err: a *api.Problem as itself, anything else as a logged
// 500 (503 while the store is down) whose detail never leaks internals,
// and which is sent to Sentry.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rt route, pr *principal, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away (a worker shutting down mid long poll):
		// not a server error. 499, as nginx logs it; nobody reads it.
		s.log.Debug("client went away", requestAttrs(r, rt, pr)...)
		w.WriteHeader(statusClientClosed)
		return
	}
	var p *api.Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(r.Context().Err(), context.DeadlineExceeded) && errors.Is(err, context.DeadlineExceeded):
		// The server's own request timeout ran out (overload, a slow
		// store): the transaction was rolled back, so the client may
		// retry. An outage signal, not a bug: no ERROR, no Sentry event.
		s.log.Warn("request timed out", append(requestAttrs(r, rt, pr), "timeout", s.cfg.RequestTimeout.String())...)
		p = api.NewProblem(api.CodeUnavailable, "the server could not answer in time; retry shortly")
		w.Header().Set("Retry-After", "1")
	default:
		// The error's text is scrubbed like a Sentry event: a driver's
		// error could quote a credential.
		s.log.Error("request failed", append(requestAttrs(r, rt, pr), "err", scrub(err.Error()))...)
		p = api.NewProblem(api.CodeInternal, internalDetail)
		if s.storeDown() {
			// Not a bug but an outage: 503 tells clients to retry.
			p = api.NewProblem(api.CodeUnavailable, "the store is unreachable; retry shortly")
			w.Header().Set("Retry-After", "1")
		}
		s.report(r, rt, pr, p.Status, nil, err)
	}
	cp := *p
	writeProblem(w, r, &cp)
}

// requestAttrs are the log attributes that identify a request: its id,
// method, route and path, and the key and workspace once authenticated.
// Never the Authorization header, a body or a query string; a secret
// pasted into the path (GET /v1/keys/bk_…) is redacted.
func requestAttrs(r *http.Request, rt route, p *principal) []any {
	attrs := []any{"request_id", requestID(r.Context()), "method", r.Method, "route", rt.path, "path", scrub(r.URL.Path)}
	if p != nil {
		attrs = append(attrs, "key_id", p.key.ID, "workspace_id", p.workspaceID)
	}
	return attrs
}

// storeDown reports whether the store fails a quick ping, which turns an
// unexpected error into 503 unavailable rather than 500 internal.
func (s *Server) storeDown() bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return s.store.Ping(ctx) != nil
}

func (s *Server) logRequest(r *http.Request, rt route, status int, d time.Duration, p *principal) {
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if rt.scope == public {
		level = slog.LevelDebug
	}
	switch {
	case status == http.StatusServiceUnavailable:
		// Overload or an outage, already explained by its own log line
		// (a store that is down logs "request failed" at ERROR).
		level = slog.LevelWarn
	case status >= 500:
		level = slog.LevelError
	}
	// The attributes (a scrubbed path among them) are built only for a
	// line that is written: at the usual WARN level, a 2xx is not.
	if !s.log.Enabled(r.Context(), level) {
		return
	}
	attrs := append(requestAttrs(r, rt, p), "status", status, "duration_ms", float64(d.Microseconds())/1000)
	s.log.Log(r.Context(), level, "request", attrs...)
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush on the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// internalDetail is the whole detail of a 500: its cause goes to the log,
// under the request id the client is asked to quote.
const internalDetail = "an internal error occurred; quote the request id when reporting it"
