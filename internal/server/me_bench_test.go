package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
	"github.com/genericcorp/baton/pkg/config"
)

// meBench is a server set up like bench/auth.go's (a WARN JSON log, a
// workspace whose limits no run reaches) with a key and a session token of
// that workspace, its cache warm.
type meBench struct {
	srv          *Server
	ws, key, tok string
	cs           *countingStore
}

// sqliteBenchStore is a migrated SQLite store, closed when b ends.
func sqliteBenchStore(b *testing.B) store.Store {
	st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "baton.db"))
	if err == nil {
		err = st.Migrate(b.Context())
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// newMeBench sets the server up on st with limiter lim (nil: in memory).
func newMeBench(b *testing.B, st store.Store, lim ratelimit.Limiter) *meBench {
	cs := &countingStore{Store: st}
	secret := []byte("bench-secret-0123456789abcdef0123456789")
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := New(Config{Store: cs, Secret: secret, Tiers: config.DefaultTiers(), DefaultTier: "free", Logger: log,
		Version: "bench", Limiter: lim})
	if err != nil {
		b.Fatal(err)
	}
	mb := &meBench{srv: srv, cs: cs}
	admin, _ := auth.NewKey(auth.OperatorPrefix)
	if err := st.CreateKey(b.Context(), store.Key{ID: ids.New(ids.Key), Name: "admin", Prefix: auth.PublicPrefix(admin),
		Hash: auth.NewHasher(secret).Hash(admin), Scopes: []string{api.ScopeAdmin}, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	var created api.CreateWorkspaceResponse
	w := mb.serve("POST", "/v1/workspaces", admin, `{"name":"bench","tier":"team"}`)
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || w.Code != 201 {
		b.Fatalf("create workspace: %d %s", w.Code, w.Body)
	}
	// Limits no run reaches, so that every request is counted in its
	// workspace's bucket (with Redis, a round trip) and none is refused.
	rpm, burst := int64(60_000_000), int64(1_000_000)
	patch, _ := json.Marshal(api.UpdateWorkspaceRequest{Overrides: map[string]*int64{"requests_per_minute": &rpm, "burst": &burst}})
	if w := mb.serve("PATCH", "/v1/workspaces/"+created.Workspace.ID, admin, string(patch)); w.Code != 200 {
		b.Fatalf("unlimit: %d %s", w.Code, w.Body)
	}
	var tok api.TokenResponse
	w = mb.serve("POST", "/v1/auth/token", created.Key.Secret, "")
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil {
		b.Fatalf("token: %d %s", w.Code, w.Body)
	}
	mb.ws, mb.key, mb.tok = created.Workspace.ID, created.Key.Secret, tok.Token
	for _, c := range []string{mb.key, mb.tok} {
		if w := mb.serve("GET", "/v1/me", c, ""); w.Code != 200 { // warm
			b.Fatalf("me: %d %s", w.Code, w.Body)
		}
	}
	return mb
}

// serve serves one request with credential cred through the whole server.
func (mb *meBench) serve(method, path, cred, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+cred)
	w := httptest.NewRecorder()
	mb.srv.ServeHTTP(w, r)
	return w
}

// countingListener counts the connections accepted.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// processCPU is the CPU time (user and system) this process has used. On
// a machine shared with other work, CPU per request is steadier than
// wall time per request.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// statusDiscarder is the cheapest http.ResponseWriter, so that the handler
// benchmark measures the server and not a recorder.
type statusDiscarder struct {
	h      http.Header
	status int
}

func (w *statusDiscarder) Header() http.Header         { return w.h }
func (w *statusDiscarder) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusDiscarder) WriteHeader(code int)        { w.status = code }

// BenchmarkMeHandler serves GET /v1/me through the whole handler chain
// (ServeHTTP: request id, mux, wrap, authentication, rate limit,
// metering, the answer) in process, with a key and with a session, from
// 16 goroutines. It measures the server's own CPU and allocations per
// request on a warm cache.
//
//	go test ./internal/server -run '^$' -bench MeHandler -benchmem -benchtime 2s
func BenchmarkMeHandler(b *testing.B) {
	mb := newMeBench(b, sqliteBenchStore(b), nil)
	for _, c := range []struct{ name, cred string }{{"key", mb.key}, {"session", mb.tok}} {
		b.Run(c.name, func(b *testing.B) {
			before, cpu := mb.cs.calls.Load(), processCPU(b)
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/v1/me", nil)
				r.Header.Set("Authorization", "Bearer "+c.cred)
				r.Header.Set(api.HeaderWorkspace, mb.ws)
				r.Header.Set("Accept", "application/json, "+api.ProblemContentType)
				w := &statusDiscarder{}
				for pb.Next() {
					r.Header.Set(api.HeaderRequestID, ids.New(ids.Request))
					w.h, w.status = http.Header{}, 0
					mb.srv.ServeHTTP(w, r)
					if w.status != http.StatusOK {
						b.Errorf("status %d", w.status)
						return
					}
				}
			})
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(mb.cs.calls.Load()-before)/float64(b.N), "store-calls/op")
		})
	}
}

// BenchmarkMeLoopback is bench/auth.go's measurement as a Go benchmark:
// GET /v1/me over loopback HTTP through Serve (problemListener included)
// with pkg/client as the driver, 16 connections, in one process. Its
// ns/op and allocs/op are the server's and the client's together.
//
//	go test ./internal/server -run '^$' -bench MeLoopback -benchmem -benchtime 2s
func BenchmarkMeLoopback(b *testing.B) {
	mb := newMeBench(b, sqliteBenchStore(b), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	counted := &countingListener{Listener: ln}
	ln = counted
	go func() { done <- Serve(ctx, ln, mb.srv, slog.New(slog.DiscardHandler), 5*time.Second) }()
	b.Cleanup(func() { stop(); <-done })
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 64, 64
	hc := &http.Client{Transport: t}
	b.Cleanup(t.CloseIdleConnections)
	for _, c := range []struct{ name, cred string }{{"key", mb.key}, {"session", mb.tok}} {
		b.Run(c.name, func(b *testing.B) {
			cl, err := client.New("http://"+ln.Addr().String(), client.WithAPIKey(c.cred), client.WithWorkspace(mb.ws),
				client.WithHTTPClient(hc), client.WithRetry(0, 0))
			if err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			var lats []time.Duration
			cpu := processCPU(b)
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				mine := make([]time.Duration, 0, 1024)
				for pb.Next() {
					t := time.Now()
					if _, err := cl.Me(context.Background()); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t))
				}
				mu.Lock()
				lats = append(lats, mine...)
				mu.Unlock()
			})
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(counted.n.Load()), "conns")
			slices.Sort(lats)
			if len(lats) > 0 {
				b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-us")
				b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-us")
			}
		})
	}
}
