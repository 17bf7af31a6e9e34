package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// BenchmarkAuthenticatedMe serves GET /v1/me (in process, no network)
// from 16 goroutines with a key and with a session, on SQLite with the
// in-memory limiter and, when BATON_TEST_POSTGRES_URL and
// BATON_TEST_REDIS_URL are set, on PostgreSQL with the Redis limiter. It
// reports the store calls per request: 0 on a warm cache.
//
//	go test ./internal/server -run '^$' -bench AuthenticatedMe -benchtime 20000x
func BenchmarkAuthenticatedMe(b *testing.B) {
	type backend struct {
		name    string
		open    func(b *testing.B) store.Store
		limiter func(b *testing.B) ratelimit.Limiter
	}
	// migrated migrates a store just opened, closed when b ends.
	type migrator interface {
		store.Store
		Migrate(ctx context.Context) error
	}
	migrated := func(b *testing.B, st migrator, err error) store.Store {
		if err == nil {
			err = st.Migrate(b.Context())
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	backends := []backend{{"sqlite", func(b *testing.B) store.Store {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "baton.db"))
		return migrated(b, st, err)
	}, func(*testing.B) ratelimit.Limiter { return nil }}}
	backends = append(backends, backend{"postgres+redis", func(b *testing.B) store.Store {
		st, err := postgres.Open(b.Context(), testutil.PostgresSchema(b), 16)
		return migrated(b, st, err)
	}, func(b *testing.B) ratelimit.Limiter {
		opt, prefix := testutil.Redis(b)
		rdb := redis.NewClient(opt)
		b.Cleanup(func() { rdb.Close() })
		return ratelimit.NewRedis(rdb, prefix)
	}})
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			st := be.open(b)
			cs := &countingStore{Store: st}
			secret := []byte("bench-secret-0123456789abcdef0123456789")
			srv, err := New(Config{Store: cs, Secret: secret, Tiers: config.DefaultTiers(), DefaultTier: "free",
				Logger: slog.New(slog.DiscardHandler), Version: "bench", Limiter: be.limiter(b)})
			if err != nil {
				b.Fatal(err)
			}
			admin, _ := auth.NewKey(auth.OperatorPrefix)
			if err := st.CreateKey(b.Context(), store.Key{ID: ids.New(ids.Key), Name: "admin", Prefix: auth.PublicPrefix(admin),
				Hash: auth.NewHasher(secret).Hash(admin), Scopes: []string{api.ScopeAdmin}, CreatedAt: time.Now()}); err != nil {
				b.Fatal(err)
			}
			serve := func(method, path, cred, body string) *httptest.ResponseRecorder {
				r := httptest.NewRequest(method, path, strings.NewReader(body))
				r.Header.Set("Authorization", "Bearer "+cred)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				return w
			}
			var created api.CreateWorkspaceResponse
			// Limits no run reaches, so that every request is counted in its
			// workspace's bucket (a Redis round trip) and none is refused.
			rpm, burst := int64(60_000_000), int64(1_000_000)
			w := serve("POST", "/v1/workspaces", admin, `{"name":"bench","tier":"team"}`)
			if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || w.Code != 201 {
				b.Fatalf("create workspace: %d %s", w.Code, w.Body)
			}
			patch, _ := json.Marshal(api.UpdateWorkspaceRequest{Overrides: map[string]*int64{"requests_per_minute": &rpm, "burst": &burst}})
			if w := serve("PATCH", "/v1/workspaces/"+created.Workspace.ID, admin, string(patch)); w.Code != 200 {
				b.Fatalf("unlimit: %d %s", w.Code, w.Body)
			}
			var tok api.TokenResponse
			w = serve("POST", "/v1/auth/token", created.Key.Secret, "")
			if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil {
				b.Fatalf("token: %d %s", w.Code, w.Body)
			}
			for _, c := range []struct{ name, cred string }{{"key", created.Key.Secret}, {"session", tok.Token}} {
				b.Run(c.name, func(b *testing.B) {
					serve("GET", "/v1/me", c.cred, "") // warm
					before := cs.calls.Load()
					b.SetParallelism(8) // 16 goroutines on 2 cores
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if w := serve("GET", "/v1/me", c.cred, ""); w.Code != http.StatusOK {
								b.Errorf("status %d: %s", w.Code, w.Body)
								return
							}
						}
					})
					b.ReportMetric(float64(cs.calls.Load()-before)/float64(b.N), "store-calls/op")
				})
			}
			_ = srv.FlushUsage(context.Background())
		})
	}
}
