package server

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Limit classes of routes: which buckets a request is counted in.
const (
	// limitAPI: the workspace's requests_per_minute and burst (and the
	// key's share of it), or the operator key's own limit.
	limitAPI = ""
	// limitWorker: a separate, larger bucket per workspace, so that a busy
	// worker never starves the workspace's API calls. Routes with scope
	// worker get it unless they say otherwise.
	limitWorker = "worker"
	// limitToken: limitAPI, plus a per-address limit checked before the key
	// is looked up.
	limitToken = "token"
)

// maxRate and maxBurst clamp a workspace's limits (an override can be any
// int64) to what the limiters accept.
const (
	maxRate  = 1_000_000_000
	maxBurst = 1_000_000
)

// RateLimits are the rate-limit policies beyond the tiers' own
// requests_per_minute and burst. Zero fields take DefaultRateLimits' values.
type RateLimits struct {
	// Operator limits each operator key (bak_…), also when it acts on a
	// workspace with Baton-Workspace: operator traffic never spends, nor is
	// refused for, a workspace's budget.
	Operator ratelimit.Limit
	// OperatorWorker limits each operator key's worker traffic (shared
	// workers serve every workspace).
	OperatorWorker ratelimit.Limit
	// WorkerPerTask makes a workspace's worker bucket: the workspace's own
	// limit plus this much per unit of its max_concurrent_tasks. A running
	// task heartbeats every ~5 s and appends logs, so 120 a minute per task
	// leaves ample room. The period must be a minute.
	WorkerPerTask ratelimit.Limit
	// Token limits POST /v1/auth/token per client address.
	Token ratelimit.Limit
	// AuthFailures limits failed authentications (401) per client address.
	// Each 401 spends one; an address with no budget left is refused with
	// 429 before an unknown credential of it is looked up (a key the
	// server has seen belong to a real key, or a good session token, is
	// still let in: see authenticateLimited).
	AuthFailures ratelimit.Limit
	// KeyPercent is each workspace key's share of its workspace's limit, in
	// percent (1–100; 100 when 0). Below 100 a key has a bucket of its own,
	// checked before the workspace's, so that one busy or leaked key cannot
	// spend the whole budget of the workspace. At 100 the workspace's
	// bucket already bounds every key, and no second decision is made.
	KeyPercent int
	// TrustedProxies are the networks of reverse proxies whose
	// X-Forwarded-For header is believed; see clientAddr.
	TrustedProxies []netip.Prefix
}

// DefaultRateLimits returns the default policies.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		Operator:       ratelimit.PerMinute(6000, 1000),
		OperatorWorker: ratelimit.PerMinute(60_000, 5000),
		WorkerPerTask:  ratelimit.PerMinute(120, 20),
		Token:          ratelimit.PerMinute(30, 10),
		AuthFailures:   ratelimit.PerMinute(30, 20),
		KeyPercent:     100,
	}
}

// withDefaults fills the zero fields of rl from DefaultRateLimits. It
// returns an error naming a limit that is set but invalid, or a
// WorkerPerTask whose period is not a minute.
func (rl RateLimits) withDefaults() (RateLimits, error) {
	d := DefaultRateLimits()
	for _, f := range []struct {
		name   string
		v, def *ratelimit.Limit
	}{
		{"Operator", &rl.Operator, &d.Operator}, {"OperatorWorker", &rl.OperatorWorker, &d.OperatorWorker},
		{"WorkerPerTask", &rl.WorkerPerTask, &d.WorkerPerTask}, {"Token", &rl.Token, &d.Token},
		{"AuthFailures", &rl.AuthFailures, &d.AuthFailures},
	} {
		if f.v.IsZero() {
			*f.v = *f.def
		}
		if err := f.v.Validate(); err != nil {
			return rl, fmt.Errorf("server: rate limit %s: %w", f.name, err)
		}
	}
	if rl.WorkerPerTask.Period != time.Minute {
		return rl, fmt.Errorf("server: rate limit WorkerPerTask: the period must be a minute, not %s", rl.WorkerPerTask.Period)
	}
	if rl.KeyPercent <= 0 || rl.KeyPercent > 100 {
		rl.KeyPercent = 100
	}
	return rl, nil
}

// withLimitClass gives a route of scope worker the worker limit class
// unless it names one.
func withLimitClass(rt route) route {
	if rt.scope == api.ScopeWorker && rt.limit == limitAPI {
		rt.limit = limitWorker
	}
	return rt
}

// Scopes of buckets: the scope label of baton_rate_limited_total.
const (
	scopeWorkspace      = "workspace"       // a workspace's API traffic
	scopeKey            = "key"             // one workspace key's share (KeyPercent < 100)
	scopeWorker         = "worker"          // a workspace's worker traffic
	scopeOperator       = "operator"        // an operator key's API traffic
	scopeOperatorWorker = "operator_worker" // an operator key's worker traffic
	scopeAddressToken   = "address_token"   // POST /v1/auth/token per client address
	scopeAddressAuth    = "address_auth"    // failed authentications per client address
)

// rateScopes are every bucket scope.
var rateScopes = []string{scopeWorkspace, scopeKey, scopeWorker, scopeOperator, scopeOperatorWorker, scopeAddressToken, scopeAddressAuth}

// bucket is one rate limit a request is counted in.
type bucket struct {
	key   string // the limiter's key
	scope string // one of rateScopes, for metrics
	limit ratelimit.Limit
	// subject is what the bucket limits: an address, a key id or a
	// workspace id; workspace is the key's workspace for scopeKey. The
	// 429's detail is made from them only when a request is refused.
	subject, workspace string
}

// detail says what is over its limit, for the 429's detail; keyPercent is
// RateLimits.KeyPercent.
func (b bucket) detail(keyPercent int) string {
	switch b.scope {
	case scopeAddressAuth:
		return "too many failed authentications from address " + b.subject
	case scopeAddressToken:
		return "too many token requests from address " + b.subject
	case scopeOperatorWorker:
		return "worker traffic of operator key " + b.subject + " is over its rate limit"
	case scopeOperator:
		return "operator key " + b.subject + " is over its rate limit"
	case scopeWorker:
		return "worker traffic of workspace " + b.subject + " is over its rate limit"
	case scopeKey:
		return fmt.Sprintf("key %s is over its rate limit (%d%% of workspace %s's)", b.subject, keyPercent, b.workspace)
	}
	return "workspace " + b.subject + " is over its rate limit"
}

// decision is a bucket's answer.
type decision struct {
	b   bucket
	res ratelimit.Result
}

// authenticateLimited authenticates r under the rate limits, in this order:
// the credential is parsed (no I/O); a credential that is not vouched for
// (a key the cache never saw) from an address that failed recently is
// refused when the address has no failed-authentication budget left, before
// any key lookup; POST /v1/auth/token spends the address's token budget;
// the credential is looked up (a 401 spends one failure); then the request
// is counted in the principal's buckets, narrowest first. It sets the
// rate-limit headers of the tightest bucket that counted the request, or of
// the bucket that refused it. ctx is the request's (with its timeout).
//
// The lockout stops guesses, not good keys: a key this replica has seen
// belong to a real key, or a session token with a good signature, is let in
// from a locked-out address (behind a shared address, one client's guesses
// must not lock every other client out). And it costs a successful request
// nothing: the limiter is asked about an address only when this replica saw
// it fail recently (s.failing), or when it fails now; a vouched request on
// a route other than POST /v1/auth/token does not even work out its address.
//
// Errors: a rate_limited *api.Problem, or authenticate's errors. The
// principal is returned with a rate_limited error, for the access log.
func (s *Server) authenticateLimited(ctx context.Context, w http.ResponseWriter, r *http.Request, rt route) (*principal, error) {
	cred, err := s.parseCredential(r)
	if err != nil {
		s.authFailure(ctx, s.clientAddr(r))
		return nil, err
	}
	if s.failing.any() && !s.vouched(cred) { // suspect is false while no address fails
		if addr := s.clientAddr(r); s.failing.suspect(addr, s.now()) {
			if d, ok := s.decide(ctx, failureBucket(addr, s.rl.AuthFailures), 0); ok {
				s.failing.observe(addr, d.res, s.now())
				if d.res.Remaining < 1 {
					d.res.Allowed = false
					return nil, s.refuse(w, d)
				}
			}
		}
	}
	var spare [3]decision // the token bucket and at most two of the principal's
	applied := spare[:0]
	if rt.limit == limitToken {
		addr := s.clientAddr(r)
		b := bucket{key: "addr:token:" + addr, scope: scopeAddressToken, limit: s.rl.Token, subject: addr}
		if d, ok := s.decide(ctx, b, 1); ok {
			if !d.res.Allowed {
				return nil, s.refuse(w, d)
			}
			applied = append(applied, d)
		}
	}
	p, err := s.authenticate(ctx, r, cred)
	if err != nil {
		if isProblem(err, api.CodeUnauthenticated) {
			s.authFailure(ctx, s.clientAddr(r))
		}
		return nil, err
	}
	var buf [2]bucket
	for _, b := range s.principalBuckets(p, rt.limit, &buf) {
		d, ok := s.decide(ctx, b, 1)
		if !ok {
			continue
		}
		if !d.res.Allowed {
			return p, s.refuse(w, d)
		}
		applied = append(applied, d)
	}
	if len(applied) > 0 {
		setRateHeaders(w.Header(), tightest(applied))
	}
	return p, nil
}

// failureBucket is addr's failed-authentication bucket.
func failureBucket(addr string, l ratelimit.Limit) bucket {
	return bucket{key: "addr:authfail:" + addr, scope: scopeAddressAuth, limit: l, subject: addr}
}

// authFailure spends one of addr's failed authentications and notes what
// the limiter says of its bucket.
func (s *Server) authFailure(ctx context.Context, addr string) {
	if d, ok := s.decide(ctx, failureBucket(addr, s.rl.AuthFailures), 1); ok {
		s.failing.observe(addr, d.res, s.now())
	}
}

// decide asks the limiter. A limiter error fails open (ok is false): the
// server's limiter falls back to memory by itself, so what is left is a
// request whose client went away, or a limit the limiter refuses.
func (s *Server) decide(ctx context.Context, b bucket, n int) (d decision, ok bool) {
	res, err := s.limiter.Allow(ctx, b.key, b.limit, n)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("rate limit: no decision; allowing the request", "request_id", requestID(ctx), "bucket", b.key, "err", err)
		}
		return decision{}, false
	}
	return decision{b: b, res: res}, true
}

// principalBuckets returns the buckets a request of p on a route of the
// given limit class counts in, narrowest first, in buf; none for a
// workspace whose requests_per_minute is 0 (unlimited).
func (s *Server) principalBuckets(p *principal, class string, buf *[2]bucket) []bucket {
	id := p.key.ID
	if p.key.WorkspaceID == store.OperatorWorkspace {
		if class == limitWorker {
			buf[0] = bucket{key: "opw:" + id, scope: scopeOperatorWorker, limit: s.rl.OperatorWorker, subject: id}
		} else {
			buf[0] = bucket{key: "op:" + id, scope: scopeOperator, limit: s.rl.Operator, subject: id}
		}
		return buf[:1]
	}
	if p.workspace == nil {
		return nil
	}
	ws := p.workspace
	lim := s.tier(ws.Tier).Limits.Apply(ws.Overrides)
	if lim.RequestsPerMinute <= 0 {
		return nil
	}
	l := ratelimit.PerMinute(int(min(lim.RequestsPerMinute, maxRate)), int(min(max(lim.Burst, 1), maxBurst)))
	if class == limitWorker {
		per := s.rl.WorkerPerTask
		tasks := int(min(max(lim.MaxConcurrentTasks, 0), maxBurst))
		wl := ratelimit.PerMinute(min(l.Rate+per.Rate*tasks, maxRate), min(l.Burst+per.Burst*tasks, maxBurst))
		buf[0] = bucket{key: "wsw:" + ws.ID, scope: scopeWorker, limit: wl, subject: ws.ID}
		return buf[:1]
	}
	bs := buf[:0]
	if pct := s.rl.KeyPercent; pct < 100 {
		kl := ratelimit.PerMinute(max(l.Rate*pct/100, 1), max(l.Burst*pct/100, 1))
		bs = append(bs, bucket{key: "key:" + id, scope: scopeKey, limit: kl, subject: id, workspace: ws.ID})
	}
	return append(bs, bucket{key: "ws:" + ws.ID, scope: scopeWorkspace, limit: l, subject: ws.ID})
}

// tightest returns the decision with the fewest requests remaining (the
// longest reset among equals).
func tightest(ds []decision) decision {
	t := ds[0]
	for _, d := range ds[1:] {
		if d.res.Remaining < t.res.Remaining || (d.res.Remaining == t.res.Remaining && d.res.ResetAfter > t.res.ResetAfter) {
			t = d
		}
	}
	return t
}

// refuse counts a refusal, sets its headers and returns its problem.
func (s *Server) refuse(w http.ResponseWriter, d decision) *api.Problem {
	s.metrics.rateLimited.WithLabelValues(d.b.scope).Inc()
	secs := max(ceilSeconds(d.res.RetryAfter), 1)
	h := w.Header()
	setRateHeaders(h, d)
	h.Set("Retry-After", fmt.Sprint(secs))
	return api.Errorf(api.CodeRateLimited, "%s (%s); retry in %ds", d.b.detail(s.rl.KeyPercent), d.b.limit, secs)
}

// setRateHeaders sets RateLimit-Policy and RateLimit (IETF
// draft-ietf-httpapi-ratelimit-headers): q requests per window of w
// seconds; r requests remaining now; t seconds until the bucket is full
// again.
//
// Both are made in one buffer, with canonical header names (set as map
// keys, as Header.Set would): they are on every limited answer.
func setRateHeaders(h http.Header, d decision) {
	l := d.res.Limit
	var b [96]byte
	v := append(b[:0], `"default";q=`...)
	v = strconv.AppendInt(v, int64(l.Rate), 10)
	v = append(v, ";w="...)
	v = strconv.AppendInt(v, max(ceilSeconds(l.Period), 1), 10)
	policy := len(v)
	v = append(v, `"default";r=`...)
	v = strconv.AppendInt(v, int64(d.res.Remaining), 10)
	v = append(v, ";t="...)
	v = strconv.AppendInt(v, ceilSeconds(d.res.ResetAfter), 10)
	both := string(v)
	vals := []string{both[:policy], both[policy:]} // one backing array for both
	h[headerRateLimitPolicy] = vals[0:1:1]
	h[headerRateLimit] = vals[1:2:2]
}

// Canonical names of the rate-limit headers (textproto spells
// "RateLimit-Policy" so).
var (
	headerRateLimitPolicy = http.CanonicalHeaderKey("RateLimit-Policy")
	headerRateLimit       = http.CanonicalHeaderKey("RateLimit")
)

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
