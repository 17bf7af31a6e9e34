package clitest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Reply is a stub response with a status other than 200.
type Reply struct {
	Status int
	Body   any
}

// Routes maps a ServeMux pattern ("GET /v1/keys/{id}") to its response: a
// Reply, an http.HandlerFunc, an Optional, or any other value, sent as JSON
// with 200.
type Routes map[string]any

// Optional marks a route that the test may leave unused (a lookup that
// only some runs make); every other route must be requested.
type Optional struct{ Response any }

// NewStub serves routes with fixed responses; any other request gets a 404
// problem. Env.Key is a fake operator key. Like gh's httpmock Verify, the
// test fails at its end when a route (not Optional) was never requested:
// a stub for a request the command no longer makes is a test that no
// longer tests what it says.
func NewStub(t testing.TB, routes Routes) *Env {
	t.Helper()
	mux := http.NewServeMux()
	var mu sync.Mutex
	used := map[string]bool{}
	for pattern, v := range routes {
		if o, ok := v.(Optional); ok {
			v = o.Response
		} else {
			used[pattern] = false
		}
		var h http.Handler
		switch v := v.(type) {
		case http.HandlerFunc:
			h = v
		case Reply:
			h = jsonReply(v.Status, v.Body)
		default:
			h = jsonReply(http.StatusOK, v)
		}
		mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if _, ok := used[pattern]; ok {
				used[pattern] = true
			}
			mu.Unlock()
			h.ServeHTTP(w, r)
		}))
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		var unused []string
		for p, ok := range used {
			if !ok {
				unused = append(unused, p)
			}
		}
		if len(unused) > 0 && !t.Failed() {
			slices.Sort(unused)
			t.Errorf("stub routes never requested: %s (drop them, or mark them clitest.Optional)", strings.Join(unused, ", "))
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("X-Request-Id", "req_stub")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"type":"/docs/errors#not_found","title":"Not found","status":404,"code":"not_found","detail":"no stub for ` + r.Method + ` ` + r.URL.Path + `"}`))
	})
	e := newEnv(t, mux)
	e.Key = "bak_Stub0000" + strings.Repeat("0", 41) // shaped like a key; a stub checks nothing
	return e
}

func jsonReply(status int, body any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_stub")
		w.WriteHeader(status)
		if body != nil {
			_ = json.NewEncoder(w).Encode(body)
		}
	})
}

// Shared marks every route Optional: for a fixture server shared by many
// tests, each of which requests only some of its routes. A test that
// stubs only what it needs should not use it.
func (r Routes) Shared() Routes {
	out := make(Routes, len(r))
	for p, v := range r {
		if _, ok := v.(Optional); !ok {
			v = Optional{Response: v}
		}
		out[p] = v
	}
	return out
}
