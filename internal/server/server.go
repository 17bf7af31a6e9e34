// Package server is baton's HTTP API: New builds an http.Handler over a
// store; Serve runs it with graceful shutdown.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/store"
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
	draining atomic.Bool
}

// New returns a Server. Errors: a missing store, secret or tiers.
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
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	s := &Server{
		cfg:      cfg,
		store:    cfg.Store,
		hasher:   auth.NewHasher(cfg.Secret),
		sessions: auth.NewSessions(cfg.Secret, cfg.Now),
		log:      cfg.Logger,
		now:      func() time.Time { return cfg.Now().UTC() },
		mux:      http.NewServeMux(),
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	return s, nil
}

// ServeHTTP serves the API. Requests that match no route get a problem
// body (404, or 405 with Allow) rather than the mux's plain text.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = withRequestID(w, r)
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		p := api.Errorf(api.CodeNotFound, "no route %s %s", r.Method, r.URL.Path)
		if rec.status == http.StatusMethodNotAllowed {
			p = api.Errorf(api.CodeInvalidRequest, "method %s is not allowed on %s", r.Method, r.URL.Path)
			p.Status = http.StatusMethodNotAllowed
			w.Header().Set("Allow", rec.header.Get("Allow"))
		}
		writeProblem(w, r, p)
		return
	}
	s.mux.ServeHTTP(w, r) // sets the path values that Handler does not
}

// Drain marks the server as draining: /readyz answers 503 so load balancers
// stop sending traffic while in-flight requests finish.
func (s *Server) Drain() { s.draining.Store(true) }

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
