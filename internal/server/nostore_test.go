package server

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// TestSecretsAreNotCached walks the route table: every route whose answer
// can hold a credential (a key's secret, a session token) answers
// Cache-Control: no-store, including the four that hand one out (POST
// /v1/workspaces had no such header). A new such route fails here until it
// has a request below.
func TestSecretsAreNotCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	k := b.newKey(a.key, api.ScopeKeysRead)
	revoke := b.newKey(a.key, api.ScopeKeysRead)

	type call struct{ cred, path, body, secret string }
	calls := map[string]call{
		"POST /v1/workspaces":       {b.admin, "/v1/workspaces", `{"name":"other"}`, "key.secret"},
		"POST /v1/keys":             {a.key, "/v1/keys", `{"scopes":["keys:read"]}`, "secret"},
		"POST /v1/keys/{id}/rotate": {a.key, "/v1/keys/" + k.ID + "/rotate", `{}`, "secret"},
		"POST /v1/auth/token":       {a.key, "/v1/auth/token", "", "token"},
		"GET /v1/keys":              {a.key, "/v1/keys", "", ""},
		"GET /v1/keys/{id}":         {a.key, "/v1/keys/" + k.ID, "", ""},
		"DELETE /v1/keys/{id}":      {a.key, "/v1/keys/" + revoke.ID, "", ""},
	}
	var secretRoutes []string
	for _, rt := range b.srv.routeTable() {
		if !carriesSecret(reflect.TypeOf(rt.response)) {
			continue
		}
		name := rt.method + " " + rt.path
		secretRoutes = append(secretRoutes, name)
		c, ok := calls[name]
		if !ok {
			t.Errorf("%s can answer a secret: add a request for it to this test", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			r := b.req(rt.method, c.path, c.cred, c.body)
			if r.Status != rt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, rt.status, r.Body)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if c.secret == "" {
				return
			}
			var body map[string]any
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatal(err)
			}
			v := any(body)
			for _, f := range strings.Split(c.secret, ".") {
				v = v.(map[string]any)[f]
			}
			if s, _ := v.(string); s == "" {
				t.Fatalf("no %s in %s", c.secret, r.Body)
			}
		})
	}
	for name := range calls {
		if !slices.Contains(secretRoutes, name) {
			t.Errorf("%s is expected to carry a secret, but its response type holds none", name)
		}
	}
	// A route without a secret keeps caching to its caller's judgement.
	if got := b.req("GET", "/v1/me", a.key, "").Header.Get("Cache-Control"); got != "" {
		t.Errorf("GET /v1/me Cache-Control = %q, want none", got)
	}
}
