package server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// openStream opens GET path as an event stream with cred and returns the
// response (the caller closes its body) and a cancel that ends it.
func (b *bundle) openStream(t *testing.T, path, cred string) (*http.Response, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", b.http.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, cancel
}

// TestStreamCap: a workspace holds at most max_open_streams event streams
// and claim long polls at once; one more is 429 rate_limited with
// Retry-After, another workspace is not affected, and a stream that ends
// frees its slot. Before the cap, 2 000 streams of one tenant took another
// tenant's submit p50 from 2.2 to 298 ms.
func TestStreamCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newFreeTenant("acme", map[string]int64{api.LimitMaxOpenStreams: 2})
	z := b.newFreeTenant("zulu", map[string]int64{api.LimitMaxOpenStreams: 2})
	task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)

	usage, endUsage := b.openStream(t, "/v1/usage/stream", a.key)
	events, _ := b.openStream(t, "/v1/tasks/"+task.ID+"/events", a.key)
	if usage.StatusCode != 200 || events.StatusCode != 200 {
		t.Fatalf("first two streams: %d and %d, want 200", usage.StatusCode, events.StatusCode)
	}
	third, _ := b.openStream(t, "/v1/usage/stream", a.key)
	if third.StatusCode != 429 || third.Header.Get("Retry-After") != "1" {
		t.Fatalf("third stream: %d Retry-After %q, want 429 and 1", third.StatusCode, third.Header.Get("Retry-After"))
	}
	var p api.Problem
	if err := json.NewDecoder(third.Body).Decode(&p); err != nil || p.Code != api.CodeRateLimited {
		t.Errorf("third stream's problem %+v (%v), want rate_limited", p, err)
	}
	// A claim long poll counts too; one that does not wait does not.
	body, _ := json.Marshal(api.ClaimRequest{WorkerID: "w1", WaitSeconds: 5})
	wantProblem(t, b.req("POST", "/v1/tasks/claim", a.key, string(body)), 429, api.CodeRateLimited)
	b.call("POST", "/v1/tasks/claim", a.key, api.ClaimRequest{WorkerID: "w1"}, 200, nil)
	// Another workspace has its own streams.
	if other, _ := b.openStream(t, "/v1/usage/stream", z.key); other.StatusCode != 200 {
		t.Errorf("zulu's stream: %d, want 200", other.StatusCode)
	}
	// Ending a stream frees its slot (the handler notices the client left).
	endUsage()
	testutil.Eventually(t, 10*time.Second, "a slot frees when a stream ends", func() bool {
		resp, cancel := b.openStream(t, "/v1/usage/stream", a.key)
		defer cancel()
		return resp.StatusCode == 200
	})
	if g := b.scrape()["baton_open_streams"].GetMetric()[0].GetGauge().GetValue(); g < 1 {
		t.Errorf("baton_open_streams = %v, want the open streams counted", g)
	}
}
