package server

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// TestWorkerPresenceAcrossReplicas (issue 16: "two replicas must agree —
// say how"): worker presence is a row per worker in the store's workers
// table, written by the replica that takes the claim and read by every
// replica, so two replicas agree by construction. Two servers, each with
// its own connection to one store (a SQLite file opened twice; PostgreSQL
// too when BATON_TEST_POSTGRES_URL is set), on one clock: a worker claims
// through A, and B lists it (GET /v1/workers, with its queues, host,
// version, concurrency and running task) and counts it as the queue's
// poller (GET /v1/queues); a shared worker claiming through B is listed by
// A; the worker's next claim through B with other queues is what A lists;
// a minute without a claim and neither replica lists it.
func TestWorkerPresenceAcrossReplicas(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "baton.db")
		open := func() migratingStore {
			st, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		presenceAcrossReplicas(t, open)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := testutil.PostgresSchema(t) // skips without BATON_TEST_POSTGRES_URL
		open := func() migratingStore {
			st, err := postgres.Open(context.Background(), url, 4)
			if err != nil {
				t.Fatal(err)
			}
			return st
		}
		presenceAcrossReplicas(t, open)
	})
}

func presenceAcrossReplicas(t *testing.T, open func() migratingStore) {
	sa := open()
	a := setupStore(t, sa, nil) // migrates the store, closes it at the end
	sb := open()
	t.Cleanup(func() { sb.Close() })
	b := a.replica(func(cfg *Config) { cfg.Store = sb })

	acme := a.newTenant("acme")
	a.submit(acme.key, api.SubmitTaskRequest{Queue: "gpu"}, "", 201)
	a.submit(acme.key, api.SubmitTaskRequest{Queue: "gpu"}, "", 201)
	var claimed api.ClaimResponse
	a.call("POST", "/v1/tasks/claim", acme.key, api.ClaimRequest{Queues: []string{"gpu", "email"}, WorkerID: "w-1", Host: "box-1",
		Concurrency: 4, MaxTasks: 1}, 200, &claimed, "User-Agent", "baton/1.4.0 (linux/amd64)")
	if len(claimed.Tasks) != 1 {
		t.Fatalf("claimed %d tasks through A, want 1", len(claimed.Tasks))
	}
	seenAt := a.clock().UTC().Truncate(time.Microsecond)

	workers := func(r *bundle, cred string) []api.Worker {
		t.Helper()
		var l api.List[api.Worker]
		r.call("GET", "/v1/workers", cred, nil, 200, &l)
		return l.Data
	}
	pollers := func(r *bundle, queue string) (api.Queue, bool) {
		t.Helper()
		var l api.List[api.Queue]
		r.call("GET", "/v1/queues", acme.key, nil, 200, &l)
		i := slices.IndexFunc(l.Data, func(q api.Queue) bool { return q.Name == queue })
		if i < 0 {
			return api.Queue{}, false
		}
		return l.Data[i], true
	}

	// B lists what A recorded.
	ws := workers(b, acme.key)
	if len(ws) != 1 {
		t.Fatalf("replica B lists %+v, want w-1 (claimed through A)", ws)
	}
	if w := ws[0]; w.ID != "w-1" || w.WorkspaceID != acme.ws.ID || w.Host != "box-1" || w.Version != "1.4.0" || w.Concurrency != 4 ||
		w.Running != 1 || !slices.Equal(w.Queues, []string{"gpu", "email"}) || !w.LastSeenAt.Equal(seenAt) {
		t.Fatalf("replica B: worker = %+v, want w-1 on gpu and email seen at %s", w, seenAt)
	}
	if q, ok := pollers(b, "gpu"); !ok || q.Pollers != 1 || q.Running != 1 || q.Queued != 1 {
		t.Fatalf("replica B: gpu = %+v, want 1 poller, 1 running, 1 queued", q)
	}
	if !slices.EqualFunc(workers(a, acme.key), ws, workerEqual) {
		t.Fatalf("replicas disagree: A %+v, B %+v", workers(a, acme.key), ws)
	}

	// The other way round: a shared worker (operator key) claims through B.
	b.call("POST", "/v1/tasks/claim", b.admin, api.ClaimRequest{Queues: []string{"email"}, WorkerID: "shared-1", Host: "box-2"}, 200, nil)
	all := workers(a, a.admin)
	if len(all) != 2 || all[0].ID != "shared-1" || all[0].WorkspaceID != "" || all[1].ID != "w-1" {
		t.Fatalf("replica A: every worker = %+v, want shared-1 (claimed through B) and w-1", all)
	}
	if !slices.EqualFunc(workers(b, b.admin), all, workerEqual) {
		t.Fatalf("replicas disagree on every worker: A %+v, B %+v", all, workers(b, b.admin))
	}

	// w-1's next claim lands on B with one queue: A lists the change.
	a.advance(20 * time.Second)
	b.call("POST", "/v1/tasks/claim", acme.key, api.ClaimRequest{Queues: []string{"email"}, WorkerID: "w-1", Host: "box-1",
		Concurrency: 4}, 200, nil, "User-Agent", "baton/1.4.0 (linux/amd64)")
	ws = workers(a, acme.key)
	if len(ws) != 1 || !slices.Equal(ws[0].Queues, []string{"email"}) || !ws[0].LastSeenAt.Equal(a.clock().UTC().Truncate(time.Microsecond)) {
		t.Fatalf("replica A after w-1 claimed through B: %+v", ws)
	}
	if q, ok := pollers(a, "gpu"); !ok || q.Pollers != 0 {
		t.Fatalf("replica A: gpu = %+v, want no poller (w-1 now polls email only)", q)
	}

	// A quiet minute: neither replica lists anyone.
	a.advance(tasks.WorkerWindow + time.Second)
	for name, r := range map[string]*bundle{"A": a, "B": b} {
		if ws := workers(r, r.admin); len(ws) != 0 {
			t.Errorf("replica %s after a quiet minute: %+v", name, ws)
		}
	}
}

// workerEqual compares two listed workers, times as instants.
func workerEqual(x, y api.Worker) bool {
	return x.ID == y.ID && x.WorkspaceID == y.WorkspaceID && x.Host == y.Host && x.Version == y.Version &&
		slices.Equal(x.Queues, y.Queues) && x.Concurrency == y.Concurrency && x.Running == y.Running && x.LastSeenAt.Equal(y.LastSeenAt)
}
