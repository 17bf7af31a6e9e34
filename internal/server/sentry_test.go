package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/genericcorp/baton/pkg/api"
)

// captureTransport is a sentry.Transport that keeps the events.
type captureTransport struct {
	mu     sync.Mutex
	events []*sentry.Event
}

func (c *captureTransport) Configure(sentry.ClientOptions)            {}
func (c *captureTransport) Flush(time.Duration) bool                  { return true }
func (c *captureTransport) FlushWithContext(ctx context.Context) bool { return true }
func (c *captureTransport) Close()                                    {}
func (c *captureTransport) SendEvent(e *sentry.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func (c *captureTransport) take() []*sentry.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.events
	c.events = nil
	return out
}

// addRoute serves rt on b's server, outside the route table.
func (b *bundle) addRoute(rt route) {
	b.srv.mux.Handle(rt.method+" "+rt.path, b.srv.wrap(rt))
}

// TestSentryReportsPanicsAnd5xx: a panic and a 500 each send one event
// tagged with the request id, route and workspace, and no secret: neither
// the Authorization header nor secrets quoted in the panic or the error.
func TestSentryReportsPanicsAnd5xx(t *testing.T) {
	t.Parallel()
	tr := &captureTransport{}
	client, err := NewSentry(SentryOptions{DSN: "https://public@sentry.example.invalid/1", Release: "test", Transport: tr})
	if err != nil || client == nil {
		t.Fatalf("NewSentry = %v, %v", client, err)
	}
	b := setupWith(t, func(c *Config) { c.Sentry = client })
	a := b.newTenant("acme")
	b.addRoute(route{method: "GET", path: "/test/panic", scope: anyAuth, h: func(w http.ResponseWriter, r *http.Request, p *principal) error {
		panic("boom while holding " + r.Header.Get("Authorization"))
	}})
	b.addRoute(route{method: "GET", path: "/test/error", scope: anyAuth, h: func(w http.ResponseWriter, r *http.Request, p *principal) error {
		return errors.New("store said no to postgres://baton:hunter2-pass@db/baton for " + r.Header.Get("Authorization"))
	}})
	if len(tr.take()) != 0 {
		t.Fatal("events before any failure")
	}
	for _, path := range []string{"/test/panic", "/test/error"} {
		r := b.req("GET", path, a.key, "")
		p := wantProblem(t, r, 500, api.CodeInternal)
		events := tr.take()
		if len(events) != 1 {
			t.Fatalf("%s: %d events, want 1", path, len(events))
		}
		e := events[0]
		if e.Tags["request_id"] != p.RequestID || e.Tags["route"] != path || e.Tags["workspace_id"] != a.ws.ID || e.Tags["status"] != "500" {
			t.Errorf("%s: tags = %v, want request id %s", path, e.Tags, p.RequestID)
		}
		raw, _ := json.Marshal(e)
		for _, secret := range []string{a.key, "hunter2", string(b.secret)} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s: the event holds a secret %q: %s", path, secret, raw)
			}
		}
		if e.Request != nil && len(e.Request.Headers) > 0 {
			t.Errorf("%s: the event carries request headers: %v", path, e.Request.Headers)
		}
	}
	// Client errors are not reported.
	wantProblem(t, b.req("GET", "/v1/tasks/task_nope", a.key, ""), 404, api.CodeNotFound)
	if n := len(tr.take()); n != 0 {
		t.Errorf("a 404 sent %d events", n)
	}
}

// TestSentryOffWithoutDSN: with no DSN there is no client, even when
// $SENTRY_DSN is set (sentry.NewClient would read it), so nothing is sent.
func TestSentryOffWithoutDSN(t *testing.T) {
	t.Setenv("SENTRY_DSN", "https://public@sentry.example.invalid/1")
	tr := &captureTransport{}
	client, err := NewSentry(SentryOptions{Transport: tr})
	if client != nil || err != nil {
		t.Fatalf("NewSentry without a DSN = %v, %v; want nil, nil", client, err)
	}
	b := setupWith(t, func(c *Config) { c.Sentry = client })
	b.addRoute(route{method: "GET", path: "/test/panic", scope: public, h: func(http.ResponseWriter, *http.Request, *principal) error {
		panic("boom")
	}})
	wantProblem(t, b.req("GET", "/test/panic", "", ""), 500, api.CodeInternal)
	if n := len(tr.take()); n != 0 {
		t.Fatalf("%d events sent without a DSN", n)
	}
}

// TestScrubEvent: secrets in messages, exceptions, tags and requests are
// redacted; request headers and bodies are dropped.
func TestScrubEvent(t *testing.T) {
	key := "bk_" + strings.Repeat("a", 49)
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXkifQ.c2lnbmF0dXJl"
	e := &sentry.Event{Message: "failed with " + key, Tags: map[string]string{"t": jwt},
		Exception: []sentry.Exception{{Value: "dial postgres://u:s3cret@h/db: Bearer " + jwt}},
		Request:   &sentry.Request{URL: "/v1/me", Headers: map[string]string{"Authorization": "Bearer " + key}, Data: `{"k":"` + key + `"}`}}
	raw, _ := json.Marshal(ScrubEvent(e))
	for _, s := range []string{key, jwt, "s3cret", "Authorization"} {
		if strings.Contains(string(raw), s) {
			t.Errorf("scrubbed event still holds %q: %s", s, raw)
		}
	}
}
