package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/genericcorp/baton/internal/ratelimit"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/store/sqlite"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// requestDecoder is the decode path of one request type, as its handler
// calls it.
type requestDecoder struct {
	typ    reflect.Type
	decode func(r *http.Request) (any, error)
}

func decoderOf[T any](allowEmpty bool) requestDecoder {
	return requestDecoder{typ: reflect.TypeFor[T](), decode: func(r *http.Request) (any, error) {
		return decode[T](r, 1<<20, allowEmpty)
	}}
}

// requestDecoders holds every request body the server decodes, with the
// allowEmpty of its handler. TestEveryRequestTypeIsFuzzed holds it to the
// route table.
var requestDecoders = []requestDecoder{
	decoderOf[struct{}](true), // POST /v1/auth/token
	decoderOf[api.CreateWorkspaceRequest](false),
	decoderOf[api.UpdateWorkspaceRequest](false),
	decoderOf[api.CreateKeyRequest](false),
	decoderOf[api.RotateKeyRequest](true),
	decoderOf[api.SubmitTaskRequest](false),
	decoderOf[api.UpdateTaskRequest](false),
	decoderOf[api.RetryTaskRequest](true),
	decoderOf[api.SignalRequest](true),
	decoderOf[api.StepBeginRequest](false),
	decoderOf[api.StepEndRequest](false),
	decoderOf[api.ClaimRequest](false),
	decoderOf[api.HeartbeatRequest](false),
	decoderOf[api.LogsRequest](false),
	decoderOf[api.CompleteRequest](false),
	decoderOf[api.FailRequest](false),
}

// decoderFor returns the decoder of a route's request type; ok is false
// for a route that reads no body. The token exchange reads an empty one
// (struct{}: no field is known).
func decoderFor(rt route) (requestDecoder, bool) {
	var typ reflect.Type
	switch {
	case rt.request != nil:
		typ = reflect.TypeOf(rt.request)
	case rt.path == "/v1/auth/token":
		typ = reflect.TypeFor[struct{}]()
	default:
		return requestDecoder{}, false
	}
	for _, d := range requestDecoders {
		if d.typ == typ {
			return d, true
		}
	}
	return requestDecoder{}, false
}

func jsonRequest(body []byte) *http.Request {
	r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// clientError checks that err is a problem of the decode path: 400, 413 or
// 422 with its code's status and, for a 422, the fields named.
func clientError(t *testing.T, what string, err error) *api.Problem {
	t.Helper()
	var p *api.Problem
	if !errors.As(err, &p) {
		t.Fatalf("%s: %T %v is no problem (a 500)", what, err, err)
	}
	switch {
	case p.Status != p.Code.Status():
		t.Fatalf("%s: status %d for code %s", what, p.Status, p.Code)
	case p.Code != api.CodeInvalidRequest && p.Code != api.CodePayloadTooLarge && p.Code != api.CodeValidationFailed:
		t.Fatalf("%s: code %s is not a client error of a body", what, p.Code)
	case p.Code == api.CodeValidationFailed && len(p.Errors) == 0:
		t.Fatalf("%s: 422 naming no field", what)
	}
	return p
}

func fuzzBodies() []string {
	return []string{"", "{}", "null", "[]", `{"x":1}`, `{} {}`, "{\"name\":\"\xff\"}", `{"name":"a\u0000b"}`, `{"attempt":1e400}`,
		`{"attempt":-9223372036854775809}`, `{"input":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, `{"queues":["a",null]}`,
		`{"timeout_seconds":9223372037}`, `{"usage":{"tokens":-1,"cost_micros":1e11}}`, `{"lines":["\u0000",""]}`, `{"overrides":{"burst":null}}`,
		`{"until":"0000-01-01T00:00:00+23:59"}`, `{"scopes":["*","admin","worker:all"]}`, `{"expires_in":"106752d"}`, `{"grace":"-1s"}`,
		`{"Attempt":1}`, `{"attempt":1,"usage":{"Tokens":1}}`, `{"labels":{"K":"v"},"Queue":"q"}`}
}

// FuzzDecodeRequests drives every request body the server decodes through
// decode, the handlers' own path: it never panics, refuses only with a
// 400, 413 or 422 problem, accepts nothing but an object (or an empty body
// where the route allows one), and what it accepts is a fixed point: encoded
// and decoded again it is accepted and encodes the same.
func FuzzDecodeRequests(f *testing.F) {
	for i := range requestDecoders {
		for _, body := range fuzzBodies() {
			f.Add(uint8(i), []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		d := requestDecoders[int(kind)%len(requestDecoders)]
		v, err := d.decode(jsonRequest(body))
		if err != nil {
			clientError(t, d.typ.String(), err)
			return
		}
		if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] != '{' {
			t.Fatalf("%s: accepted %q, which is not a JSON object", d.typ, body)
		}
		once, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: accepted %q cannot be encoded: %v", d.typ, body, err)
		}
		again, err := d.decode(jsonRequest(once))
		if err != nil {
			t.Fatalf("%s: accepted %q, refused its own encoding %s: %v", d.typ, body, once, err)
		}
		if twice, _ := json.Marshal(again); !bytes.Equal(once, twice) {
			t.Fatalf("%s: %q decodes to %s, then to %s", d.typ, body, once, twice)
		}
	})
}

// TestEveryRequestTypeIsFuzzed: every request type of the route table has
// its decoder in requestDecoders, every route that takes a body (all but
// GET) is a target of FuzzRouteBodies with a scene request, and no decoder
// is left over.
func TestEveryRequestTypeIsFuzzed(t *testing.T) {
	t.Parallel()
	used := map[reflect.Type]bool{}
	sc := &scene{}
	for _, rt := range bodyRoutes() {
		d, ok := decoderFor(rt)
		if !ok && rt.request != nil {
			t.Errorf("%s %s: its request type %T has no decoder in requestDecoders", rt.method, rt.path, rt.request)
		}
		used[d.typ] = true
		if _, _, ok := sc.request(rt.method, rt.path); !ok {
			t.Errorf("%s %s: no scene request for FuzzRouteBodies", rt.method, rt.path)
		}
	}
	for _, rt := range (&Server{}).routeTable() {
		if rt.request != nil && rt.method == "GET" {
			t.Errorf("GET %s has a request body type: FuzzRouteBodies sends none", rt.path)
		}
	}
	for _, d := range requestDecoders {
		if !used[d.typ] {
			t.Errorf("requestDecoders holds %s, which no route decodes", d.typ)
		}
	}
}

// bodyRoutes are the routes FuzzRouteBodies sends bodies to: every route
// but the GETs, in the route table's order.
func bodyRoutes() []route {
	var out []route
	for _, rt := range (&Server{}).routeTable() {
		if rt.method != "GET" {
			out = append(out, rt)
		}
	}
	return out
}

// fuzzServer is a server on SQLite or PostgreSQL whose tiers never refuse the fuzzer
// (no rate limit, quotas out of reach), and a handler checking every
// exchange against api/openapi.json with the running input's t.
type fuzzServer struct {
	store string // "sqlite" or "postgres"
	b     *bundle
	cur   *testing.T
	h     http.Handler
	sc    *scene
	n     int
	fresh bool // the next input needs a new scene
	// ran holds the journal keys FuzzStepKey ran in the scene's attempt.
	ran map[string]bool
}

// newFuzzServers returns a fuzzServer on SQLite and, when
// BATON_TEST_POSTGRES_URL is set, one on PostgreSQL: each input goes to
// both (PostgreSQL refuses text SQLite stores).
func newFuzzServers(f *testing.F) []*fuzzServer {
	out := []*fuzzServer{newFuzzServer(f, "sqlite")}
	if os.Getenv("BATON_TEST_POSTGRES_URL") != "" {
		out = append(out, newFuzzServer(f, "postgres"))
	}
	return out
}

func newFuzzServer(f *testing.F, backend string) *fuzzServer {
	fs := &fuzzServer{store: backend, ran: map[string]bool{}}
	configure := func(c *Config) {
		pro := c.Tiers["pro"]
		pro.Limits.RequestsPerMinute = 0
		for _, l := range []*int64{&pro.Limits.MaxQueuedTasks, &pro.Limits.MonthlyTaskExecutions, &pro.Limits.MonthlyExecutionSeconds,
			&pro.Limits.MonthlySpendMicros, &pro.Limits.MaxConcurrentTasks, &pro.Limits.MaxOpenStreams} {
			*l = 1 << 40
		}
		c.Tiers["pro"] = pro
	}
	var st migratingStore
	var err error
	if backend == "sqlite" {
		st, err = sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "baton.db"))
	} else {
		st, err = postgres.Open(context.Background(), testutil.PostgresSchema(f), 4)
	}
	if err != nil {
		f.Fatal(err)
	}
	fs.b = setupStore(f, st, configure)
	// One address and one operator key send every request: their limits
	// are not under test.
	unlimited := ratelimit.PerMinute(1_000_000, 1_000_000)
	rl := &fs.b.srv.rl
	rl.Token, rl.AuthFailures, rl.Operator, rl.OperatorWorker = unlimited, unlimited, unlimited, unlimited
	fs.h = contract(func(format string, args ...any) { fs.cur.Errorf(format, args...) }, fs.b.srv)
	return fs
}

// scene returns the current scene, a new one when fresh.
func (fs *fuzzServer) scene(t *testing.T, fresh bool) *scene {
	fs.cur, fs.b.t = t, t
	if fs.sc == nil || fresh {
		fs.n++
		fs.sc = fs.b.newScene("fuzz-" + strconv.Itoa(fs.n))
	}
	return fs.sc
}

// serve sends one request to the server in process. A route that holds
// the request open (a claim's long poll) is let go after 50 ms.
func (fs *fuzzServer) serve(rt route, path, cred string, body []byte, headers ...string) *httptest.ResponseRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if rt.stream {
		stop := time.AfterFunc(50*time.Millisecond, cancel)
		defer stop.Stop()
	}
	r := httptest.NewRequestWithContext(ctx, rt.method, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+cred)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	fs.h.ServeHTTP(rec, r)
	return rec
}

// harmless are the routes whose success leaves the scene usable.
var harmless = map[string]bool{"POST /v1/auth/token": true, "POST /v1/workspaces": true, "POST /v1/keys": true, "POST /v1/tasks": true,
	"PATCH /v1/tasks/{id}": true, "POST /v1/tasks/{id}/signals/{name}": true, "POST /v1/tasks/claim": true,
	"POST /v1/tasks/{id}/heartbeat": true, "POST /v1/tasks/{id}/logs": true, "POST /v1/alerts/{id}/ack": true}

// FuzzRouteBodies sends bodies to every route that takes one, through the
// whole server (authentication, decode, validation, the store: SQLite, and
// PostgreSQL when BATON_TEST_POSTGRES_URL is set), on a workspace whose objects are in the state in which the route succeeds:
// no answer is a 5xx, every refusal is a problem whose status is its
// code's, a body the decoder refuses gets exactly the decoder's problem,
// and every exchange matches api/openapi.json.
func FuzzRouteBodies(f *testing.F) {
	routes := bodyRoutes()
	servers := newFuzzServers(f)
	sc := servers[0].b.newScene("seeds")
	for i, rt := range routes {
		_, valid, _ := sc.request(rt.method, rt.path)
		for _, body := range append(fuzzBodies(), valid) {
			f.Add(uint8(i), []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		rt := routes[int(which)%len(routes)]
		for _, fs := range servers {
			fs.routeBody(t, rt, body)
		}
	})
}

// routeBody is one input of FuzzRouteBodies on fs.
func (fs *fuzzServer) routeBody(t *testing.T, rt route, body []byte) {
	sc := fs.scene(t, fs.fresh)
	path, _, _ := sc.request(rt.method, rt.path)
	cred, headers := sc.tenant.key, []string(nil)
	if rt.scope == api.ScopeAdmin {
		cred, headers = fs.b.admin, []string{api.HeaderWorkspace, sc.ws.ID}
	}
	rec := fs.serve(rt, path, cred, body, headers...)
	fs.fresh = rec.Code < 300 && !harmless[rt.method+" "+rt.path]
	what := fs.store + ": " + rt.method + " " + rt.path + " " + strconv.Quote(string(body))
	if rec.Code == statusClientClosed && rt.stream {
		return // let go of a long poll
	}
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	var p *api.Problem
	if rec.Code >= 400 {
		if ct := rec.Header().Get("Content-Type"); ct != api.ProblemContentType || json.Unmarshal(rec.Body.Bytes(), &p) != nil {
			t.Fatalf("%s: %d is not a problem (%s): %s", what, rec.Code, ct, rec.Body)
		}
		if p.Status != rec.Code || p.Code.Status() != rec.Code || p.Type != "/docs/errors#"+string(p.Code) {
			t.Fatalf("%s: %d with problem %+v", what, rec.Code, p)
		}
	} else if rec.Code != rt.status && !(rt.path == "/v1/tasks/{id}/signals/{name}" && rec.Code == 200) {
		t.Fatalf("%s: %d, want the route's %d", what, rec.Code, rt.status)
	}
	if d, ok := decoderFor(rt); !ok {
		return // the route reads no body
	} else if _, err := d.decode(jsonRequest(body)); err != nil {
		want := clientError(t, what, err)
		if p == nil || p.Code != want.Code {
			t.Fatalf("%s: %d, but its decoder refuses it with %d %s: %s", what, rec.Code, want.Status, want.Code, want.Detail)
		}
	}
}

// FuzzCursor: ?limit= and ?cursor= of any value are taken (limit 1–100, a
// cursor of this list and workspace) or refused with a 400 naming the
// parameter; the cursor a page hands out is taken back by its own list
// and workspace only, and resumes after the same row.
func FuzzCursor(f *testing.F) {
	good := base64.RawURLEncoding.EncodeToString([]byte(`{"w":"ws_1","l":"keys","a":"key_9"}`))
	for _, c := range []struct{ cursor, limit string }{{good, "20"}, {"", ""}, {"!!", "0"}, {good + "=", "101"}, {"e30", "-1"},
		{base64.RawURLEncoding.EncodeToString([]byte(`{"w":"ws_1","l":"keys","a":""}`)), "1e2"},
		{base64.RawURLEncoding.EncodeToString([]byte(`{"w":"ws_1","l":"keys","a":"x","w":"ws_2"}`)), "100"}, {"bnVsbA", " 5"}} {
		f.Add(c.cursor, c.limit, "ws_1", "keys", "key_9")
	}
	f.Add("", "", "", "tasks", "task_\u00e9")
	f.Add("", "", "ws_1", "keys", "")
	f.Fuzz(func(t *testing.T, raw, limit, ws, list, after string) {
		q := url.Values{}
		if raw != "" {
			q.Set("cursor", raw)
		}
		if limit != "" {
			q.Set("limit", limit)
		}
		r := httptest.NewRequest("GET", "/?"+q.Encode(), nil)
		p, err := pageParams(r, list, ws)
		if err != nil {
			var pr *api.Problem
			if !errors.As(err, &pr) || pr.Status != 400 || pr.Code != api.CodeInvalidRequest || len(pr.Errors) != 1 ||
				(pr.Errors[0].Field != "cursor" && pr.Errors[0].Field != "limit") {
				t.Fatalf("pageParams(cursor %q, limit %q): %v", raw, limit, err)
			}
		} else {
			if p.Limit < 1 || p.Limit > maxLimit || (raw == "") != (p.After == "") {
				t.Fatalf("pageParams(cursor %q, limit %q) = %+v", raw, limit, p)
			}
			if raw != "" {
				b, _ := base64.RawURLEncoding.DecodeString(raw)
				var c cursor
				if json.Unmarshal(b, &c) != nil || c.Workspace != ws || c.List != list || c.After != p.After {
					t.Fatalf("pageParams took cursor %q (%s) in list %q of %q", raw, b, list, ws)
				}
			}
		}

		// The cursor of a page (ids and list names are never empty and
		// always UTF-8).
		if after == "" || !utf8.ValidString(after) || !utf8.ValidString(list) || !utf8.ValidString(ws) {
			return
		}
		rows := []string{"first", after, "next"}
		out := page(rows, 2, list, ws, func(s string) string { return s }, func(s string) string { return s })
		if out.NextCursor == nil {
			t.Fatal("no next cursor with a row to spare")
		}
		for _, c := range []struct {
			list, ws string
			ok       bool
		}{{list, ws, true}, {list + "x", ws, false}, {list, ws + "x", false}} {
			r := httptest.NewRequest("GET", "/?"+url.Values{"cursor": {*out.NextCursor}}.Encode(), nil)
			p, err := pageParams(r, c.list, c.ws)
			switch {
			case c.ok && (err != nil || p.After != after):
				t.Fatalf("the cursor after %q of list %q in %q is not taken back: %+v, %v", after, list, ws, p, err)
			case !c.ok && err == nil:
				t.Fatalf("the cursor of list %q in %q is taken by list %q in %q", list, ws, c.list, c.ws)
			}
		}
	})
}

// FuzzStepKey sends step keys through the real client and server (on
// SQLite, and PostgreSQL when BATON_TEST_POSTGRES_URL is set): a key
// is refused exactly when validStepName refuses it or it ends like a
// repeat's journal name (a 422; 400 for NUL or invalid UTF-8, which no path
// may hold); every accepted key runs once, journaled as itself (KEY#n when
// repeated, never a name the attempt already ran), the answered key ends
// the step whatever its length, and the journal lists it unchanged.
func FuzzStepKey(f *testing.F) {
	for _, k := range []string{"fetch", "a/b", "a b", "#", "%2F", "..", ".", "a?b", "a#2", "日本語", "\u00a0", "a\tb", "\x7f", "\xff",
		strings.Repeat("k", api.MaxStepKeyLen), strings.Repeat("é", api.MaxStepKeyLen), strings.Repeat("k", api.MaxStepKeyLen+1), "a\u0000b", "\u2028",
		"x", "x", "x#2", "y#2", "y", "y"} { // the repeat named x#2 (y#2) and the program's own key x#2 (y#2) collided
		f.Add(k)
	}
	type stepServer struct {
		*fuzzServer
		c    *client.Client
		task string
	}
	var servers []stepServer
	for _, fs := range newFuzzServers(f) {
		fs.sc = fs.b.newScene("steps")
		c, err := client.New("http://baton.test", client.WithAPIKey(fs.sc.tenant.key), client.WithHTTPClient(&http.Client{Transport: roundTripper(fs)}))
		if err != nil {
			f.Fatal(err)
		}
		servers = append(servers, stepServer{fs, c, fs.sc.running.ID})
	}
	f.Fuzz(func(t *testing.T, key string) {
		for _, s := range servers {
			s.scene(t, false)
			s.stepKey(t, s.c, s.task, key)
		}
	})
}

// stepKey is one input of FuzzStepKey on fs: step key of task through c.
func (fs *fuzzServer) stepKey(t *testing.T, c *client.Client, task, key string) {
	ctx := context.Background()
	begun, err := c.BeginStep(ctx, "", task, key, api.StepBeginRequest{Attempt: 1, Kind: api.StepRun})
	valid := validStepName("key", key, api.MaxStepKeyLen) == nil && !repeatNumbered(key)
	// NUL or invalid UTF-8 in a path is refused before any route: 400.
	status, code := 422, api.CodeValidationFailed
	if api.CheckText(key) != nil {
		status, code = 400, api.CodeInvalidRequest
	}
	var ae *client.APIError
	switch {
	case key == "" && err != nil:
		return // the client refuses an empty key before sending
	case !valid && (!errors.As(err, &ae) || ae.Status != status || ae.Code != code):
		t.Fatalf("%s: begin %q, which validStepName refuses: %v, want %d %s", fs.store, key, err, status, code)
	case !valid:
		return
	case err != nil:
		t.Fatalf("%s: begin %q: %v", fs.store, key, err)
	}
	if n, isRepeat := strings.CutPrefix(begun.Key, key+"#"); begun.Key != key && (!isRepeat || n == "" || strings.Trim(n, "0123456789") != "") {
		t.Fatalf("%s: begin %q journaled it as %q", fs.store, key, begun.Key)
	}
	// Every step of the attempt is ended below: a journal key handed out
	// to run twice would be two steps in one entry, with one idempotency key.
	if begun.Action != api.ActionRun || fs.ran[begun.Key] {
		t.Fatalf("%s: begin %q answered %s %q, which this attempt already ran", fs.store, key, begun.Action, begun.Key)
	}
	fs.ran[begun.Key] = true
	if _, err := c.EndStep(ctx, "", task, begun.Key, api.StepEndRequest{Attempt: 1, Output: json.RawMessage(`1`)}); err != nil {
		t.Fatalf("%s: end %q (begun as %q): %v", fs.store, begun.Key, key, err)
	}
	steps, err := c.ListSteps(ctx, task)
	if err != nil || len(steps) == 0 || steps[len(steps)-1].Key != begun.Key {
		t.Fatalf("%s: the journal after %q: %v, %v", fs.store, begun.Key, steps, err)
	}
}

// roundTripper serves a client's requests in process, checked like every
// fuzzed request.
func roundTripper(fs *fuzzServer) http.RoundTripper {
	return rtFunc(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		fs.h.ServeHTTP(rec, r)
		return rec.Result(), nil
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
