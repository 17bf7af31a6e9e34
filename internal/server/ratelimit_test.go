package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/pkg/api"
)

// setupLimited is setup with a server whose Config configure may change
// (Limiter, RateLimits, Store) before New; the default limiter is in memory
// on the bundle's clock.
func setupLimited(t *testing.T, configure func(b *bundle, cfg *Config)) *bundle {
	t.Helper()
	b := setup(t) // the store, the operator key and the clock
	cfg := Config{Store: b.store, Secret: b.secret, Tiers: b.srv.cfg.Tiers, DefaultTier: "free", Now: b.clock,
		Logger: b.srv.log, Version: "test"}
	configure(b, &cfg)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.srv, b.store = srv, cfg.Store
	b.http = httptest.NewServer(contract(t.Errorf, srv))
	t.Cleanup(b.http.Close)
	return b
}

// direct serves one request from remote (host:port) without a network
// round trip, so that the client address can be chosen.
func (b *bundle) direct(method, path, remote, cred string) resp {
	b.t.Helper()
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = remote
	if cred != "" {
		r.Header.Set("Authorization", "Bearer "+cred)
	}
	w := httptest.NewRecorder()
	b.srv.ServeHTTP(w, r)
	return resp{Status: w.Code, Header: w.Result().Header, Body: w.Body.Bytes()}
}

func wantHeaders(t *testing.T, r resp, policy, state string) {
	t.Helper()
	if got := r.Header.Get("RateLimit-Policy"); got != policy {
		t.Errorf("RateLimit-Policy = %q, want %q", got, policy)
	}
	if got := r.Header.Get("RateLimit"); got != state {
		t.Errorf("RateLimit = %q, want %q", got, state)
	}
}

func wantRateLimited(t *testing.T, r resp, retryAfter, detail string) {
	t.Helper()
	p := wantProblem(t, r, 429, api.CodeRateLimited)
	if got := r.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
	if !strings.Contains(p.Detail, detail) || !strings.Contains(p.Detail, "retry in "+retryAfter+"s") {
		t.Errorf("detail = %q, want it to name %q and when to retry", p.Detail, detail)
	}
}

func TestRateLimitHeadersAndRefusal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme") // pro: 600 a minute, burst 100
	r := b.call("GET", "/v1/me", a.key, nil, 200, nil)
	wantHeaders(t, r, `"default";q=600;w=60`, `"default";r=99;t=1`)
	if r.Header.Get("Retry-After") != "" {
		t.Error("Retry-After on a 2xx")
	}
	for i := range 99 {
		r = b.call("GET", "/v1/tiers", a.key, nil, 200, nil)
		if i == 49 {
			wantHeaders(t, r, `"default";q=600;w=60`, `"default";r=49;t=6`)
		}
	}
	wantHeaders(t, r, `"default";q=600;w=60`, `"default";r=0;t=10`)
	r = b.req("GET", "/v1/me", a.key, "")
	wantRateLimited(t, r, "1", "workspace "+a.ws.ID)
	wantHeaders(t, r, `"default";q=600;w=60`, `"default";r=0;t=10`)

	// Other workspaces and the operator are unaffected.
	other := b.newTenant("other")
	wantHeaders(t, b.call("GET", "/v1/me", other.key, nil, 200, nil), `"default";q=600;w=60`, `"default";r=99;t=1`)

	b.advance(100 * time.Millisecond) // one emission interval
	wantHeaders(t, b.call("GET", "/v1/me", a.key, nil, 200, nil), `"default";q=600;w=60`, `"default";r=0;t=10`)
	wantRateLimited(t, b.req("GET", "/v1/me", a.key, ""), "1", a.ws.ID)
}

func TestRateLimitHonoursOverrides(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	patch := func(o map[string]any) {
		b.call("PATCH", "/v1/workspaces/"+a.ws.ID, b.admin, map[string]any{"overrides": o}, 200, nil)
	}
	patch(map[string]any{api.LimitRequestsPerMinute: 120, api.LimitBurst: 3})
	for _, state := range []string{`"default";r=2;t=1`, `"default";r=1;t=1`, `"default";r=0;t=2`} { // one every 0.5s
		wantHeaders(t, b.call("GET", "/v1/me", a.key, nil, 200, nil), `"default";q=120;w=60`, state)
	}
	wantRateLimited(t, b.req("GET", "/v1/me", a.key, ""), "1", "workspace "+a.ws.ID)

	// requests_per_minute 0: not limited, and no headers.
	patch(map[string]any{api.LimitRequestsPerMinute: 0})
	for range 20 {
		r := b.call("GET", "/v1/me", a.key, nil, 200, nil)
		if r.Header.Get("RateLimit") != "" {
			t.Fatalf("RateLimit header on an unlimited workspace: %q", r.Header.Get("RateLimit"))
		}
	}
}

func TestRateLimitPerKeyShare(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, func(_ *bundle, cfg *Config) { cfg.RateLimits.KeyPercent = 50 })
	a := b.newTenant("acme") // pro: 600/100; each key 300/50
	second := b.newKey(a.key, api.ScopeAll)
	for range 48 { // the 49 requests after POST /v1/keys
		b.call("GET", "/v1/me", a.key, nil, 200, nil)
	}
	wantHeaders(t, b.call("GET", "/v1/me", a.key, nil, 200, nil), `"default";q=300;w=60`, `"default";r=0;t=10`)
	wantRateLimited(t, b.req("GET", "/v1/me", a.key, ""), "1", "key ")
	// The other key has its own share. The workspace had 50 left (the
	// key's refusal spent nothing of it); both now have 49 left, and the
	// workspace, with the longer reset, is reported.
	r := b.call("GET", "/v1/me", second.Secret, nil, 200, nil)
	wantHeaders(t, r, `"default";q=600;w=60`, `"default";r=49;t=6`)
}

func TestRateLimitOperatorKeys(t *testing.T) {
	t.Parallel()
	b := setupLimited(t, func(_ *bundle, cfg *Config) { cfg.RateLimits.Operator = ratelimit.PerMinute(60, 4) })
	a := b.newTenant("acme") // spends one of the operator's 4
	r := b.call("GET", "/v1/me", b.admin, nil, 200, nil, api.HeaderWorkspace, a.ws.ID)
	wantHeaders(t, r, `"default";q=60;w=60`, `"default";r=2;t=2`)
	b.call("GET", "/v1/workspaces", b.admin, nil, 200, nil)
	b.call("GET", "/v1/me", b.admin, nil, 200, nil)
	wantRateLimited(t, b.req("GET", "/v1/me", b.admin, ""), "1", "operator key")
	// Acting on the workspace spent none of the workspace's budget.
	wantHeaders(t, b.call("GET", "/v1/me", a.key, nil, 200, nil), `"default";q=600;w=60`, `"default";r=99;t=1`)
}

// TestRateLimitWorkerClass registers a test-only route of scope worker:
// worker traffic has a bucket of its own per workspace.
func TestRateLimitWorkerClass(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rt := withLimitClass(route{method: "POST", path: "/test/heartbeat", scope: api.ScopeWorker, status: 200,
		h: func(w http.ResponseWriter, r *http.Request, p *principal) error {
			encode(w, 200, map[string]bool{"cancel": false})
			return nil
		}})
	if rt.limit != limitWorker {
		t.Fatalf("route of scope worker has limit class %q", rt.limit)
	}
	b.srv.mux.Handle(rt.method+" "+rt.path, b.srv.wrap(rt))
	a := b.newTenant("acme") // pro: 600/100, 10 concurrent tasks → worker 1800/300
	for i := range 300 {
		r := b.call("POST", "/test/heartbeat", a.key, nil, 200, nil)
		if i == 0 {
			wantHeaders(t, r, `"default";q=1800;w=60`, `"default";r=299;t=1`)
		}
	}
	wantRateLimited(t, b.req("POST", "/test/heartbeat", a.key, ""), "1", "worker traffic of workspace "+a.ws.ID)
	// API calls have their whole burst; spending it leaves workers as they were.
	for range 100 {
		b.call("GET", "/v1/me", a.key, nil, 200, nil)
	}
	wantRateLimited(t, b.req("GET", "/v1/me", a.key, ""), "1", "workspace "+a.ws.ID)
	b.advance(time.Second)
	wantHeaders(t, b.call("POST", "/test/heartbeat", a.key, nil, 200, nil), `"default";q=1800;w=60`, `"default";r=29;t=10`)
}

func TestFailedAuthenticationsAreCutOffPerAddress(t *testing.T) {
	t.Parallel()
	var cs *countingStore
	b := setupLimited(t, func(_ *bundle, cfg *Config) {
		cs = &countingStore{Store: cfg.Store}
		cfg.Store = cs
	})
	a := b.newTenant("acme")
	const attacker, honest = "203.0.113.7:4711", "198.51.100.20:5000"
	before := cs.lookups.Load()
	var unauthorized, limited, firstLimited int
	for i := range 1000 {
		guess, _ := auth.NewKey(auth.WorkspacePrefix) // well-formed: only the store can refuse it
		switch r := b.direct("GET", "/v1/me", attacker, guess); r.Status {
		case 401:
			unauthorized++
		case 429:
			if limited++; limited == 1 {
				firstLimited = i
				wantRateLimited(t, r, "2", "failed authentications from address 203.0.113.7")
				wantHeaders(t, r, `"default";q=30;w=60`, `"default";r=0;t=40`)
			}
		default:
			t.Fatalf("guess %d: status %d: %s", i, r.Status, r.Body)
		}
	}
	lookups := cs.lookups.Load() - before
	t.Logf("1000 guesses from one address: %d × 401, %d × 429 from guess %d on; %d store lookups", unauthorized, limited, firstLimited, lookups)
	if unauthorized != 20 || limited != 980 || firstLimited != 20 || lookups != 20 {
		t.Fatalf("%d × 401, %d × 429 (first at %d), %d lookups; want the burst of 20 failures, then 429 without lookups",
			unauthorized, limited, firstLimited, lookups)
	}
	// Another address with a valid key is served, and so is the attacker's
	// address with a key this server has seen belong to a real key (#13:
	// behind a shared address one client's guesses must not lock the others
	// out), or with a session token: the lockout stops guesses, not keys.
	b.call("GET", "/v1/me", a.key, nil, 200, nil) // 127.0.0.1
	if r := b.direct("GET", "/v1/me", honest, a.key); r.Status != 200 {
		t.Fatalf("valid key from another address: %d %s", r.Status, r.Body)
	}
	before = cs.lookups.Load()
	if r := b.direct("GET", "/v1/me", attacker, a.key); r.Status != 200 || cs.lookups.Load() != before {
		t.Fatalf("known key from the locked-out address: %d (%d lookups) %s", r.Status, cs.lookups.Load()-before, r.Body)
	}
	var tok api.TokenResponse
	b.call("POST", "/v1/auth/token", a.key, nil, 200, &tok)
	if r := b.direct("GET", "/v1/me", attacker, tok.Token); r.Status != 200 {
		t.Fatalf("session token from the locked-out address: %d %s", r.Status, r.Body)
	}
	// A key the server has never looked up is as good as a guess from
	// there: refused before any lookup, until its budget refills or the key
	// is seen from elsewhere.
	fresh := b.newKey(a.key, api.ScopeKeysRead)
	before = cs.lookups.Load()
	wantRateLimited(t, b.direct("GET", "/v1/me", attacker, fresh.Secret), "2", "203.0.113.7")
	if n := cs.lookups.Load() - before; n != 0 {
		t.Fatalf("an unknown key from the locked-out address was looked up (%d)", n)
	}
	b.advance(2 * time.Second) // 30 a minute: one failure's worth
	if r := b.direct("GET", "/v1/me", attacker, fresh.Secret); r.Status != 200 {
		t.Fatalf("new key after the refill: %d %s", r.Status, r.Body)
	}
	// Malformed credentials spend the budget too, with no store access;
	// the known key still gets in.
	before = cs.lookups.Load()
	if r := b.direct("GET", "/v1/me", attacker, "bk_garbage"); r.Status != 401 {
		t.Fatalf("malformed key: %d", r.Status)
	}
	guess, _ := auth.NewKey(auth.WorkspacePrefix)
	if r := b.direct("GET", "/v1/me", attacker, guess); r.Status != 429 || cs.lookups.Load() != before {
		t.Fatalf("a guess after the budget was spent again: %d, %d lookups", r.Status, cs.lookups.Load()-before)
	}
	if r := b.direct("GET", "/v1/me", attacker, a.key); r.Status != 200 {
		t.Fatalf("known key after the budget was spent again: %d", r.Status)
	}
}

func TestTokenExchangeLimitedPerAddress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	const addr = "192.0.2.1:1000"
	for i := range 10 {
		r := b.direct("POST", "/v1/auth/token", addr, a.key)
		if r.Status != 200 {
			t.Fatalf("token %d: %d %s", i, r.Status, r.Body)
		}
		if i == 0 { // the address's token limit is tighter than the workspace's
			wantHeaders(t, r, `"default";q=30;w=60`, `"default";r=9;t=2`)
		}
	}
	wantRateLimited(t, b.direct("POST", "/v1/auth/token", addr, a.key), "2", "token requests from address 192.0.2.1")
	if r := b.direct("POST", "/v1/auth/token", "192.0.2.2:1000", a.key); r.Status != 200 {
		t.Fatalf("another address: %d %s", r.Status, r.Body)
	}
	if r := b.direct("GET", "/v1/me", addr, a.key); r.Status != 200 {
		t.Fatalf("other routes from the address: %d %s", r.Status, r.Body)
	}
	var tok api.TokenResponse
	if r := b.direct("POST", "/v1/auth/token", "192.0.2.3:1000", a.key); json.Unmarshal(r.Body, &tok) != nil || tok.Token == "" {
		t.Fatalf("token: %s", r.Body)
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	cases := []struct {
		remote, xff string
		proxies     []netip.Prefix
		want        string
	}{
		{"203.0.113.9:1234", "", nil, "203.0.113.9"},
		{"203.0.113.9:1234", "1.2.3.4", nil, "203.0.113.9"},                         // no trusted proxies: the header is ignored
		{"203.0.113.9:1234", "1.2.3.4", trusted, "203.0.113.9"},                     // not from a proxy
		{"10.0.0.1:1234", "203.0.113.9", trusted, "203.0.113.9"},                    // one proxy
		{"10.0.0.1:1234", "1.2.3.4, 203.0.113.9, 10.0.0.2", trusted, "203.0.113.9"}, // spoofed left part, two proxies
		{"10.0.0.1:1234", "bogus, 10.0.0.2", trusted, "10.0.0.2"},                   // garbage stops the walk
		{"10.0.0.1:1234", "", trusted, "10.0.0.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "", nil, "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:80", "", nil, "192.0.2.1"},
		{"[fd00::1]:80", "2001:db8::1", trusted, "2001:db8::/64"},
		{"pipe", "", nil, "pipe"},
	}
	for _, c := range cases {
		s := &Server{rl: RateLimits{TrustedProxies: c.proxies}}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientAddr(r); got != c.want {
			t.Errorf("clientAddr(%s, XFF %q) = %q, want %q", c.remote, c.xff, got, c.want)
		}
	}
}

func TestNewRefusesInvalidRateLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, rl := range []RateLimits{
		{Token: ratelimit.PerMinute(0, 5)},
		{AuthFailures: ratelimit.Limit{Rate: 5, Burst: 5}},
		{WorkerPerTask: ratelimit.Limit{Rate: 2, Period: time.Second, Burst: 1}},
	} {
		if _, err := New(Config{Store: b.store, Secret: b.secret, Tiers: b.srv.cfg.Tiers, DefaultTier: "free", RateLimits: rl}); err == nil {
			t.Errorf("New accepted %+v", rl)
		}
	}
}

// countingLimiter counts the decisions asked about failed-authentication
// buckets (one Redis round trip each when the limiter is Redis).
type countingLimiter struct {
	ratelimit.Limiter
	authfail atomic.Int64
}

func (c *countingLimiter) Allow(ctx context.Context, key string, l ratelimit.Limit, n int) (ratelimit.Result, error) {
	if strings.HasPrefix(key, "addr:authfail:") {
		c.authfail.Add(1)
	}
	return c.Limiter.Allow(ctx, key, l, n)
}

// TestSuccessfulRequestsCostNoFailureCheck: the failed-authentication
// check asks the limiter nothing for a request that succeeds from an
// address that did not fail; after a failure, the address's unknown
// credentials are checked first, its known keys still not.
func TestSuccessfulRequestsCostNoFailureCheck(t *testing.T) {
	t.Parallel()
	var cl *countingLimiter
	b := setupLimited(t, func(b *bundle, cfg *Config) {
		cl = &countingLimiter{Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{Now: b.clock})}
		cfg.Limiter = cl
	})
	a := b.newTenant("acme")
	const addr = "198.51.100.7:1234"
	for range 50 {
		if r := b.direct("GET", "/v1/me", addr, a.key); r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	if n := cl.authfail.Load(); n != 0 {
		t.Fatalf("50 successful requests asked about the address's failures %d times, want 0", n)
	}
	guess, _ := auth.NewKey(auth.WorkspacePrefix)
	b.direct("GET", "/v1/me", addr, guess) // not suspect yet: looked up, then the failure is spent
	b.direct("GET", "/v1/me", addr, guess) // suspect: checked, looked up, spent
	if n := cl.authfail.Load(); n != 3 {
		t.Fatalf("two failures made %d failure decisions, want 3 (spend, check + spend)", n)
	}
	b.direct("GET", "/v1/me", addr, a.key)
	if n := cl.authfail.Load(); n != 3 {
		t.Fatalf("a known key from a suspect address asked the limiter (%d decisions)", n)
	}
}
