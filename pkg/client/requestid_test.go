package client

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

// requestIDs returns the X-Request-Id of every request the server saw.
func requestIDs(b *bundle) []string {
	var ids []string
	for _, r := range b.requests() {
		ids = append(ids, r.Header.Get(api.HeaderRequestID))
	}
	return ids
}

func isGeneratedID(id string) bool {
	return strings.HasPrefix(id, "req_") && len(id) == 30 && id == strings.ToLower(id)
}

// One Do call has one request id, however many times it is retried: the
// server meters a request once per id.
func TestRequestIDSameOnEveryRetry(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func(*Client) error
	}{
		{"GET", func(c *Client) error { _, err := c.GetKey(ctx, "key_1"); return err }},
		{"POSTWithIdempotencyKey", func(c *Client) error {
			_, err := c.RotateKey(ctx, "key_1", api.RotateKeyRequest{}, WithIdempotencyKey("idem_1"))
			return err
		}},
		{"POSTMarkedRetryable", func(c *Client) error { _, err := c.AckAlert(ctx, "alrt_1"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, sequence(unavailable, unavailable, okKey))
			if err := tc.call(b.c); err != nil {
				t.Fatal(err)
			}
			ids := requestIDs(b)
			if len(ids) != 3 {
				t.Fatalf("%d attempts, want 3", len(ids))
			}
			if !isGeneratedID(ids[0]) || ids[1] != ids[0] || ids[2] != ids[0] {
				t.Errorf("X-Request-Id per attempt = %v, want one generated id", ids)
			}
		})
	}
}

// A call that fails after all its retries still used a single id.
func TestRequestIDSameWhenRetriesRunOut(t *testing.T) {
	b := setup(t, unavailable, WithRetry(2, 0))
	if _, err := b.c.Quota(context.Background()); !IsCode(err, api.CodeUnavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	ids := requestIDs(b)
	if len(ids) != 3 || !isGeneratedID(ids[0]) || ids[1] != ids[0] || ids[2] != ids[0] {
		t.Errorf("X-Request-Id per attempt = %v, want 3 times one generated id", ids)
	}
}

func TestRequestIDDiffersBetweenCalls(t *testing.T) {
	b := setup(t, sequence(unavailable, okKey))
	ctx := context.Background()
	for range 3 {
		if _, err := b.c.GetKey(ctx, "key_1"); err != nil {
			t.Fatal(err)
		}
	}
	ids := requestIDs(b) // the first call retried once, the others did not
	if len(ids) != 4 {
		t.Fatalf("%d requests, want 4", len(ids))
	}
	if ids[0] != ids[1] {
		t.Errorf("retry of the first call changed id: %v", ids)
	}
	seen := map[string]bool{}
	for _, id := range ids[1:] {
		if !isGeneratedID(id) {
			t.Errorf("X-Request-Id = %q, want a generated req_ id", id)
		}
		if seen[id] {
			t.Errorf("X-Request-Id %q sent by two calls: %v", id, ids)
		}
		seen[id] = true
	}
}

func TestRequestIDExplicitKept(t *testing.T) {
	b := setup(t, sequence(unavailable, okKey))
	if _, err := b.c.GetKey(context.Background(), "key_1", WithHeader(api.HeaderRequestID, "x")); err != nil {
		t.Fatal(err)
	}
	// The lower-case spelling names the same header.
	if _, err := b.c.GetKey(context.Background(), "key_1", WithHeader("x-request-id", "y")); err != nil {
		t.Fatal(err)
	}
	if ids := requestIDs(b); strings.Join(ids, ",") != "x,x,y" {
		t.Errorf("X-Request-Id per attempt = %q, want x on both attempts, then y", ids)
	}
	for _, r := range b.requests() {
		if n := len(r.Header.Values(api.HeaderRequestID)); n != 1 {
			t.Errorf("%d X-Request-Id values sent", n)
		}
	}
}

// WithHeader with an empty value removes the header: no id is generated.
func TestRequestIDRemoved(t *testing.T) {
	b := setup(t, sequence(unavailable, okKey))
	if _, err := b.c.GetKey(context.Background(), "key_1", WithHeader(api.HeaderRequestID, "")); err != nil {
		t.Fatal(err)
	}
	for _, r := range b.requests() {
		if _, ok := r.Header[http.CanonicalHeaderKey(api.HeaderRequestID)]; ok {
			t.Errorf("X-Request-Id sent: %q", r.Header.Get(api.HeaderRequestID))
		}
	}
	if n := len(b.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}
