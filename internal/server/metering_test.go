package server

import (
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// TestAPICallsAreWrittenAsOneRowPerWorkspace: N requests of two workspaces
// are written by one flush as two usage events, and each workspace's
// api_calls total is its N.
func TestAPICallsAreWrittenAsOneRowPerWorkspace(t *testing.T) {
	t.Parallel()
	b, cs := setupCounting(t)
	a, z := b.newTenant("alpha"), b.newTenant("zulu")
	const n = 40
	for range n {
		b.call("GET", "/v1/me", a.key, nil, 200, nil)
		b.call("GET", "/v1/me", z.key, nil, 200, nil)
	}
	before := cs.usageRows.Load()
	if err := b.srv.FlushUsage(t.Context()); err != nil {
		t.Fatal(err)
	}
	if rows := cs.usageRows.Load() - before; rows != 2 {
		t.Fatalf("%d requests of 2 workspaces wrote %d usage rows, want 2", 2*n, rows)
	}
	for _, ten := range []tenant{a, z} {
		var q api.Quota
		b.call("GET", "/v1/usage/quota", ten.key, nil, 200, &q)
		if got := q.APICalls; got != n {
			t.Errorf("%s: api_calls = %d, want %d", ten.ws.Name, got, n)
		}
	}
}
