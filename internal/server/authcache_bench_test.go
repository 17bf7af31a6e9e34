package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/testutil"
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
	backends := []backend{{"sqlite", sqliteBenchStore, func(*testing.B) ratelimit.Limiter { return nil }}}
	backends = append(backends, backend{"postgres+redis", func(b *testing.B) store.Store {
		st, err := postgres.Open(b.Context(), testutil.PostgresSchema(b), 16)
		if err == nil {
			err = st.Migrate(b.Context())
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}, func(b *testing.B) ratelimit.Limiter {
		opt, prefix := testutil.Redis(b)
		rdb := redis.NewClient(opt)
		b.Cleanup(func() { rdb.Close() })
		return ratelimit.NewRedis(rdb, prefix)
	}})
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			mb := newMeBench(b, be.open(b), be.limiter(b))
			for _, c := range []struct{ name, cred string }{{"key", mb.key}, {"session", mb.tok}} {
				b.Run(c.name, func(b *testing.B) {
					before := mb.cs.calls.Load()
					b.SetParallelism(8) // 16 goroutines on 2 cores
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if w := mb.serve("GET", "/v1/me", c.cred, ""); w.Code != http.StatusOK {
								b.Errorf("status %d: %s", w.Code, w.Body)
								return
							}
						}
					})
					b.ReportMetric(float64(mb.cs.calls.Load()-before)/float64(b.N), "store-calls/op")
				})
			}
			_ = mb.srv.FlushUsage(context.Background())
		})
	}
}
