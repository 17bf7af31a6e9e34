package server

import (
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// A keys:write key must not receive the secret of a key worth more than
// itself: rotating the workspace's "*" key (or any key holding a scope the
// caller lacks, or living longer than the caller) is 403 and changes nothing.
func TestRotateRefusesKeysWorthMoreThanTheCaller(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	var me api.Me
	b.call("GET", "/v1/me", a.key, nil, 200, &me)
	star := me.Key.ID

	writer := b.newKey(a.key, api.ScopeKeysWrite, api.ScopeKeysRead)
	p := wantProblem(t, b.req("POST", "/v1/keys/"+star+"/rotate", writer.Secret, `{}`), 403, api.CodeForbidden)
	if p.Detail == "" {
		t.Fatal("no detail")
	}
	// The "*" key still works: nothing was rotated.
	b.call("GET", "/v1/me", a.key, nil, 200, nil)
	worker := b.newKey(a.key, api.ScopeWorker)
	wantProblem(t, b.req("POST", "/v1/keys/"+worker.ID+"/rotate", writer.Secret, `{}`), 403, api.CodeForbidden)

	// A key the caller covers may be rotated by it.
	reader := b.newKey(a.key, api.ScopeKeysRead)
	var rotated api.Key
	b.call("POST", "/v1/keys/"+reader.ID+"/rotate", writer.Secret, api.RotateKeyRequest{Grace: "0s"}, 200, &rotated)
	if rotated.Secret == "" {
		t.Fatal("no secret")
	}

	// A short-lived keys:write key cannot rotate a key that outlives it.
	var short api.Key
	b.call("POST", "/v1/keys", a.key, api.CreateKeyRequest{Name: "short", Scopes: []string{api.ScopeKeysWrite, api.ScopeKeysRead}, ExpiresIn: "1h"}, 201, &short)
	wantProblem(t, b.req("POST", "/v1/keys/"+reader.ID+"/rotate", short.Secret, `{}`), 403, api.CodeForbidden)
	// The "*" key and an operator key may rotate anything of the workspace.
	b.call("POST", "/v1/keys/"+worker.ID+"/rotate", a.key, nil, 200, nil)
	b.call("POST", "/v1/keys/"+star+"/rotate", b.admin, nil, 200, nil, api.HeaderWorkspace, a.ws.ID)
}

// A key never outlives the key that created it.
func TestChildKeyExpiresWithItsCreator(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	var parent api.Key
	b.call("POST", "/v1/keys", a.key, api.CreateKeyRequest{Name: "p", Scopes: []string{api.ScopeKeysWrite, api.ScopeKeysRead}, ExpiresIn: "1h"}, 201, &parent)
	want := b.clock().Add(time.Hour)
	for _, in := range []string{"", "90d", "2h"} {
		var child api.Key
		b.call("POST", "/v1/keys", parent.Secret, api.CreateKeyRequest{Name: "c", Scopes: []string{api.ScopeKeysRead}, ExpiresIn: in}, 201, &child)
		if child.ExpiresAt == nil || !child.ExpiresAt.Equal(want) {
			t.Fatalf("expires_in %q: child expires %v, want %v (its creator's expiry)", in, child.ExpiresAt, want)
		}
	}
	var sooner api.Key
	b.call("POST", "/v1/keys", parent.Secret, api.CreateKeyRequest{Name: "c", Scopes: []string{api.ScopeKeysRead}, ExpiresIn: "30m"}, 201, &sooner)
	if sooner.ExpiresAt == nil || !sooner.ExpiresAt.Equal(b.clock().Add(30*time.Minute)) {
		t.Fatalf("a sooner expiry is kept: %v", sooner.ExpiresAt)
	}
}
