package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// recorded is one request as the test server saw it.
type recorded struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// bundle is a test server, a client pointing at it, what the server received
// and every wait the client asked for (it never really sleeps).
type bundle struct {
	srv *httptest.Server
	c   *Client

	mu    sync.Mutex
	reqs  []recorded
	waits []time.Duration
}

const testKey = "bk_AbCdEfGh0123456789AbCdEfGh0123456789AbCdEfG1a2B3c"

// setup starts a server running h and a client with a key, recorded waits
// and jitter that always picks the ceiling.
func setup(t *testing.T, h http.HandlerFunc, opts ...Option) *bundle {
	t.Helper()
	b := &bundle{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.reqs = append(b.reqs, recorded{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		b.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(b.srv.Close)
	all := append([]Option{
		WithAPIKey(testKey),
		withTestHooks(func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			b.waits = append(b.waits, d)
			b.mu.Unlock()
			return ctx.Err()
		}, func(d time.Duration) time.Duration { return d }),
	}, opts...)
	c, err := New(b.srv.URL+"/", all...)
	if err != nil {
		t.Fatal(err)
	}
	b.c = c
	return b
}

func (b *bundle) requests() []recorded {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]recorded(nil), b.reqs...)
}

func (b *bundle) recordedWaits() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Duration(nil), b.waits...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set(api.HeaderRequestID, "req_test")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, code api.Code, detail string) {
	p := api.NewProblem(code, detail)
	p.RequestID = "req_body"
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.Header().Set(api.HeaderRequestID, "req_header")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// sequence answers the n-th request with handlers[n], repeating the last one.
func sequence(handlers ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handlers[min(n, len(handlers)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}
}

func TestNewValidatesURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"http://localhost:7070", "http://localhost:7070", true},
		{"https://baton.example.com/", "https://baton.example.com", true},
		{"https://example.com/baton//", "https://example.com/baton", true},
		{" http://127.0.0.1:1 ", "http://127.0.0.1:1", true},
		{"ftp://example.com", "", false},
		{"localhost:7070", "", false},
		{"http://", "", false},
		{"http://example.com/?a=b", "", false},
		{"http://user:pw@example.com", "", false},
		{"://bad", "", false},
		{"", "", false},
	} {
		c, err := New(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && c.BaseURL() != tc.want {
			t.Errorf("New(%q).BaseURL() = %q, want %q", tc.in, c.BaseURL(), tc.want)
		}
	}
}

func TestRequestHeaders(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Key{ID: "key_1"}) },
		WithWorkspace("ws_1"), WithUserAgent("1.2.3"))
	ctx := context.Background()
	if _, err := b.c.GetKey(ctx, "key_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.RotateKey(ctx, "key_1", api.RotateKeyRequest{Grace: "1h"},
		WithHeader(api.HeaderRequestID, "req_mine"), WithHeader(api.HeaderWorkspace, "ws_2")); err != nil {
		t.Fatal(err)
	}
	reqs := b.requests()
	get, post := reqs[0].Header, reqs[1].Header
	for name, want := range map[string]string{
		"Authorization": "Bearer " + testKey, api.HeaderWorkspace: "ws_1",
		"User-Agent": "baton/1.2.3", "Content-Type": "", api.HeaderIdempotencyKey: "",
	} {
		if got := get.Get(name); got != want {
			t.Errorf("GET header %s = %q, want %q", name, got, want)
		}
	}
	if id := get.Get(api.HeaderRequestID); !strings.HasPrefix(id, "req_") || len(id) != 30 {
		t.Errorf("GET header %s = %q, want a generated req_ id", api.HeaderRequestID, id)
	}
	if !strings.Contains(get.Get("Accept"), "application/json") {
		t.Errorf("Accept = %q", get.Get("Accept"))
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json", api.HeaderRequestID: "req_mine", api.HeaderWorkspace: "ws_2",
	} {
		if got := post.Get(name); got != want {
			t.Errorf("POST header %s = %q, want %q", name, got, want)
		}
	}
}

func TestWithHeaderEmptyRemoves(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Me{}) }, WithWorkspace("ws_1"))
	if _, err := b.c.Me(context.Background(), WithHeader(api.HeaderWorkspace, "")); err != nil {
		t.Fatal(err)
	}
	if h := b.requests()[0].Header; h.Get(api.HeaderWorkspace) != "" {
		t.Errorf("Baton-Workspace sent: %q", h.Get(api.HeaderWorkspace))
	}
}

func TestNoAPIKeyNoAuthorization(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Health{Status: "ok"}) }, WithAPIKey(""))
	if _, err := b.c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := b.requests()[0].Header; h.Get("Authorization") != "" || h.Get("User-Agent") != "baton/dev" {
		t.Errorf("headers = %v", h)
	}
}

func TestDoRejectsRelativePathAndBadBody(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	ctx := context.Background()
	if err := b.c.Do(ctx, "GET", "v1/me", nil, nil, nil); err == nil {
		t.Error("relative path accepted")
	}
	if err := b.c.Do(ctx, "POST", "/v1/x", nil, map[string]any{"f": func() {}}, nil); err == nil || !strings.Contains(err.Error(), "encode request body") {
		t.Errorf("bad body: err = %v", err)
	}
	if len(b.requests()) != 0 {
		t.Error("request sent")
	}
	if _, err := b.c.GetKey(ctx, " "); err == nil || !strings.Contains(err.Error(), "empty id") {
		t.Errorf("empty id: err = %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	b := setup(t, sequence(
		func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) },
		func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{not json") },
	))
	ctx := context.Background()
	if _, err := b.c.Me(ctx); err == nil || !strings.Contains(err.Error(), "empty body") {
		t.Errorf("empty body: err = %v", err)
	}
	_, err := b.c.Me(ctx)
	if err == nil || !strings.HasPrefix(err.Error(), "get caller: GET /v1/me: decode response") {
		t.Errorf("bad json: err = %v", err)
	}
}

func TestResponseSizeCap(t *testing.T) {
	big := strings.Repeat("x", 1000)
	b := setup(t, sequence(
		func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Health{Status: big}) },
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"status":"`)
			w.(http.Flusher).Flush() // chunked: no Content-Length
			fmt.Fprint(w, big+`"}`)
		},
		func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, api.Health{Status: "ok"}) },
	), WithMaxResponseBytes(200))
	ctx := context.Background()
	for i := range 2 {
		if _, err := b.c.Health(ctx); !errors.Is(err, ErrResponseTooLarge) {
			t.Errorf("response %d: err = %v, want ErrResponseTooLarge", i, err)
		}
	}
	if h, err := b.c.Health(ctx); err != nil || h.Status != "ok" {
		t.Errorf("small response: %v %v", h, err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestWithHTTPClient(t *testing.T) {
	var seen string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r.Method + " " + r.URL.String()
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"status":"ok"}`)), Request: r}, nil
	})}
	c, err := New("https://baton.example.com/base/", WithHTTPClient(hc), WithHTTPClient(nil))
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.Health(context.Background()); err != nil || h.Status != "ok" {
		t.Fatalf("Health = %v, %v", h, err)
	}
	if seen != "GET https://baton.example.com/base/healthz" {
		t.Errorf("request = %q", seen)
	}
}

func TestSnippet(t *testing.T) {
	long := strings.Repeat("ab ", 200)
	if s := snippet([]byte(long), 10); s != "ab ab ab a…" {
		t.Errorf("snippet = %q", s)
	}
	if s := snippet([]byte{0xff}, 10); s != "" {
		t.Errorf("snippet of binary = %q", s)
	}
}
