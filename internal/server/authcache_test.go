package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/config"
)

// replica is a second server over the same store, secret and operator key
// on b's clock, as another replica behind a load balancer; configure may
// change its Config (its Store, AuthBus).
func (b *bundle) replica(configure func(*Config)) *bundle {
	b.t.Helper()
	cfg := Config{Store: b.store, Secret: b.secret, Tiers: config.DefaultTiers(), DefaultTier: "free", Now: b.clock,
		Logger: slog.New(slog.DiscardHandler), Version: "test"}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	r := &bundle{t: b.t, srv: srv, http: httptest.NewServer(contract(b.t.Errorf, srv)), store: cfg.Store, secret: b.secret, admin: b.admin, clk: b.clk}
	b.t.Cleanup(r.http.Close)
	return r
}

// me is GET /v1/me with cred: its status and body.
func (b *bundle) me(cred string) (int, api.Me) {
	b.t.Helper()
	r := b.req("GET", "/v1/me", cred, "")
	var me api.Me
	if r.Status == 200 {
		if err := json.Unmarshal(r.Body, &me); err != nil {
			b.t.Fatalf("GET /v1/me: %v: %s", err, r.Body)
		}
	}
	return r.Status, me
}

// TestWarmRequestReadsNothingFromTheStore: once a key and its workspace
// are cached, an authenticated request makes no store call — with a key,
// a session token, or an operator key naming a workspace — until the TTL
// ends; baton_auth_cache_total counts the hits and the misses.
func TestWarmRequestReadsNothingFromTheStore(t *testing.T) {
	t.Parallel()
	b, cs := setupCounting(t)
	a := b.newTenant("acme")
	var tok api.TokenResponse
	b.call("POST", "/v1/auth/token", a.key, nil, 200, &tok)
	creds := []struct {
		name, cred string
		headers    []string
	}{
		{"key", a.key, nil},
		{"session", tok.Token, nil},
		{"operator key", b.admin, []string{api.HeaderWorkspace, a.ws.ID}},
	}
	for _, c := range creds {
		b.call("GET", "/v1/me", c.cred, nil, 200, nil, c.headers...) // warm
		before := cs.calls.Load()
		for range 30 {
			b.call("GET", "/v1/me", c.cred, nil, 200, nil, c.headers...)
		}
		if n := cs.calls.Load() - before; n != 0 {
			t.Errorf("%s: 30 warm requests made %d store calls, want 0", c.name, n)
		}
	}
	// Past the TTL an entry is read again: the key and the workspace.
	b.advance(auth.DefaultCacheTTL)
	before := cs.calls.Load()
	b.call("GET", "/v1/me", a.key, nil, 200, nil)
	if n := cs.calls.Load() - before; n != 2 {
		t.Errorf("a request past the TTL made %d store calls, want 2 (key, workspace)", n)
	}
	// Last use is written in the background, once per key.
	before = cs.calls.Load()
	if err := b.srv.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := cs.calls.Load() - before; n != 2+1 { // 2 keys touched (the session is a.key) + one usage batch
		t.Errorf("the flush made %d store calls, want 3 (a TouchKey per key, one RecordUsage)", n)
	}
	hits, misses := cacheCounts(t, b)
	if hits < 90 || misses < 1 {
		t.Errorf("baton_auth_cache_total: %v hits, %v misses; want ≥ 90 hits (the warm requests) and some misses", hits, misses)
	}
}

// cacheCounts sums baton_auth_cache_total's hits and misses.
func cacheCounts(t *testing.T, b *bundle) (hits, misses float64) {
	t.Helper()
	mfs, err := b.srv.cfg.Metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "baton_auth_cache_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "hit" {
					hits += m.GetCounter().GetValue()
				} else if l.GetName() == "result" {
					misses += m.GetCounter().GetValue()
				}
			}
		}
	}
	return hits, misses
}

// authChange is a change to a key or workspace that a replica's cache must
// see: made through replica a after both replicas cached what it changes.
type authChange struct {
	name string
	// make warms a's and b's caches, makes the change through a, and
	// returns seen: whether replica r now acts on the change.
	make func(t *testing.T, a, b *bundle) (seen func(r *bundle) bool)
}

func authChanges() []authChange {
	// warm makes every replica cache cred (GET /v1/me is 200).
	warm := func(t *testing.T, cred string, rs ...*bundle) {
		t.Helper()
		for _, r := range rs {
			r.call("GET", "/v1/me", cred, nil, 200, nil)
		}
	}
	refused := func(cred string) func(r *bundle) bool {
		return func(r *bundle) bool { st, _ := r.me(cred); return st == 401 }
	}
	return []authChange{
		{"revoke", func(t *testing.T, a, b *bundle) func(*bundle) bool {
			ten := a.newTenant("revoke")
			k := a.newKey(ten.key, api.ScopeKeysRead)
			warm(t, k.Secret, a, b)
			a.call("DELETE", "/v1/keys/"+k.ID, ten.key, nil, 200, nil)
			return refused(k.Secret)
		}},
		{"session of a revoked key", func(t *testing.T, a, b *bundle) func(*bundle) bool {
			ten := a.newTenant("session")
			k := a.newKey(ten.key, api.ScopeKeysRead)
			var tok api.TokenResponse
			a.call("POST", "/v1/auth/token", k.Secret, nil, 200, &tok)
			warm(t, tok.Token, a, b)
			a.call("DELETE", "/v1/keys/"+k.ID, ten.key, nil, 200, nil)
			return refused(tok.Token)
		}},
		{"rotate without grace", func(t *testing.T, a, b *bundle) func(*bundle) bool {
			ten := a.newTenant("rotate")
			k := a.newKey(ten.key, api.ScopeKeysRead)
			warm(t, k.Secret, a, b)
			var rot api.Key
			a.call("POST", "/v1/keys/"+k.ID+"/rotate", ten.key, api.RotateKeyRequest{Grace: "0s"}, 200, &rot)
			return func(r *bundle) bool {
				st, _ := r.me(rot.Secret)
				return refused(k.Secret)(r) && st == 200
			}
		}},
		{"tier", func(t *testing.T, a, b *bundle) func(*bundle) bool {
			ten := a.newTenant("tier") // pro
			warm(t, ten.key, a, b)
			team := "team"
			a.call("PATCH", "/v1/workspaces/"+ten.ws.ID, a.admin, api.UpdateWorkspaceRequest{Tier: &team}, 200, nil)
			return func(r *bundle) bool { _, me := r.me(ten.key); return me.Tier != nil && me.Tier.Name == team }
		}},
		{"override", func(t *testing.T, a, b *bundle) func(*bundle) bool {
			ten := a.newTenant("override")
			warm(t, ten.key, a, b)
			rpm := int64(1234)
			a.call("PATCH", "/v1/workspaces/"+ten.ws.ID, a.admin,
				api.UpdateWorkspaceRequest{Overrides: map[string]*int64{"requests_per_minute": &rpm}}, 200, nil)
			return func(r *bundle) bool {
				res := r.req("GET", "/v1/keys", ten.key, "")
				return strings.Contains(res.Header.Get("RateLimit-Policy"), "q=1234")
			}
		}},
		{"suspend", func(t *testing.T, a, b *bundle) func(*bundle) bool {
			ten := a.newTenant("suspend")
			for _, r := range []*bundle{a, b} {
				r.call("GET", "/v1/keys", ten.key, nil, 200, nil)
			}
			suspended := api.WorkspaceSuspended
			a.call("PATCH", "/v1/workspaces/"+ten.ws.ID, a.admin, api.UpdateWorkspaceRequest{Status: &suspended}, 200, nil)
			return func(r *bundle) bool { return r.req("GET", "/v1/keys", ten.key, "").Status == 403 }
		}},
		{"delete workspace", func(t *testing.T, a, b *bundle) func(*bundle) bool {
			ten := a.newTenant("delete")
			warm(t, ten.key, a, b)
			a.call("DELETE", "/v1/workspaces/"+ten.ws.ID, a.admin, nil, 204, nil)
			return refused(ten.key)
		}},
	}
}

// TestAuthChangesReachOtherReplicasWithinTTL: with no bus (two servers on
// one SQLite store), a change is seen at once by the replica that made it
// and, through the TTL, by the other one as soon as the TTL has passed on
// its clock — the backstop when a notification is lost.
func TestAuthChangesReachOtherReplicasWithinTTL(t *testing.T) {
	t.Parallel()
	for _, c := range authChanges() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := setup(t)
			b := a.replica(nil)
			seen := c.make(t, a, b)
			if !seen(a) {
				t.Fatal("the replica that made the change does not see it at once")
			}
			a.advance(auth.DefaultCacheTTL)
			if !seen(b) {
				t.Fatalf("the other replica does not see it %s later", auth.DefaultCacheTTL)
			}
		})
	}
}

// TestAuthChangesReachOtherReplicasByNotify: two servers, each on its own
// PostgreSQL store over one database, each listening on baton_auth. A
// change is seen at once by the replica that made it and by the other one
// within 5 s of real time while both clocks stand still (so the TTL cannot
// be what made it see the change: the NOTIFY did).
func TestAuthChangesReachOtherReplicasByNotify(t *testing.T) {
	url := testutil.PostgresSchema(t)
	open := func() *postgres.Store {
		st, err := postgres.Open(t.Context(), url, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	pa, pb := open(), open()
	if err := pa.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	a := setupOn(t, pa, func(cfg *Config) { cfg.AuthBus = pa })
	b := a.replica(func(cfg *Config) { cfg.Store, cfg.AuthBus = pb, pb })
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, r := range []*bundle{a, b} {
		wg.Go(func() { r.srv.RunBackground(ctx) })
		select {
		case <-r.srv.keys.Listening():
		case <-time.After(10 * time.Second):
			t.Fatal("the auth cache did not start listening")
		}
	}
	for _, c := range authChanges() {
		t.Run(c.name, func(t *testing.T) {
			seen := c.make(t, a, b)
			if !seen(a) {
				t.Fatal("the replica that made the change does not see it at once")
			}
			start := time.Now()
			testutil.Eventually(t, 5*time.Second, "the other replica sees the change", func() bool { return seen(b) })
			t.Logf("seen by the other replica after %s", time.Since(start).Round(time.Millisecond))
		})
	}
}
