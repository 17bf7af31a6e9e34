package clitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Reply is a stub response with a status other than 200.
type Reply struct {
	Status int
	Body   any
}

// Routes maps a ServeMux pattern ("GET /v1/keys/{id}") to its response: a
// Reply, an http.HandlerFunc, or any other value, sent as JSON with 200.
type Routes map[string]any

// NewStub serves routes with fixed responses; any other request gets a 404
// problem. Env.Key is a fake operator key.
func NewStub(t *testing.T, routes Routes) *Env {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, v := range routes {
		switch v := v.(type) {
		case http.HandlerFunc:
			mux.Handle(pattern, v)
		case Reply:
			mux.Handle(pattern, jsonReply(v.Status, v.Body))
		default:
			mux.Handle(pattern, jsonReply(http.StatusOK, v))
		}
	}
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
