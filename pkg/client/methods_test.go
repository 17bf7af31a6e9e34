package client

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func ptr[T any](v T) *T { return &v }

func TestMethods(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	ws := api.Workspace{ID: "ws_1", Name: "acme", Tier: "pro", Status: api.WorkspaceActive,
		Overrides: api.Overrides{api.LimitBurst: 5}, Limits: api.Limits{Burst: 5}, CreatedAt: at, UpdatedAt: at}
	key := api.Key{ID: "key_1", WorkspaceID: "ws_1", Name: "ci", Prefix: "bk_AbCdEfGh", Scopes: []string{"tasks:read"}, CreatedAt: at}
	withSecret := key
	withSecret.Secret = testKey
	revoked := key
	revoked.RevokedAt = &at
	next := "c2"

	for _, tc := range []struct {
		name        string
		call        func(context.Context, *Client) (any, error)
		method      string
		path, query string
		body        string // expected request JSON ("" for none)
		status      int
		resp        any
		want        any
	}{
		{"Token", func(ctx context.Context, c *Client) (any, error) { return c.Token(ctx) },
			"POST", "/v1/auth/token", "", "", 200, api.TokenResponse{Token: "eyJ.a.b", ExpiresAt: at},
			api.TokenResponse{Token: "eyJ.a.b", ExpiresAt: at}},
		{"Me", func(ctx context.Context, c *Client) (any, error) { return c.Me(ctx) },
			"GET", "/v1/me", "", "", 200, api.Me{Workspace: &ws, Key: api.MeKey{ID: "key_1", Session: true}},
			api.Me{Workspace: &ws, Key: api.MeKey{ID: "key_1", Session: true}}},
		{"Tiers", func(ctx context.Context, c *Client) (any, error) { return c.Tiers(ctx) },
			"GET", "/v1/tiers", "", "", 200, api.List[api.Tier]{Data: []api.Tier{{Name: "free"}, {Name: "pro", PriceMonthlyMicro: 49e6}}},
			[]api.Tier{{Name: "free"}, {Name: "pro", PriceMonthlyMicro: 49e6}}},
		{"CreateWorkspace", func(ctx context.Context, c *Client) (any, error) {
			return c.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: "acme", Tier: "pro"})
		}, "POST", "/v1/workspaces", "", `{"name":"acme","tier":"pro"}`, 201,
			api.CreateWorkspaceResponse{Workspace: ws, Key: withSecret}, api.CreateWorkspaceResponse{Workspace: ws, Key: withSecret}},
		{"ListWorkspaces", func(ctx context.Context, c *Client) (any, error) {
			return c.ListWorkspaces(ctx, ListOptions{Limit: 2, Cursor: "c1"})
		}, "GET", "/v1/workspaces", "cursor=c1&limit=2", "", 200,
			api.List[api.Workspace]{Data: []api.Workspace{ws}, NextCursor: &next}, api.List[api.Workspace]{Data: []api.Workspace{ws}, NextCursor: &next}},
		{"ListWorkspacesDefaults", func(ctx context.Context, c *Client) (any, error) {
			return c.ListWorkspaces(ctx, ListOptions{})
		}, "GET", "/v1/workspaces", "", "", 200,
			api.List[api.Workspace]{Data: []api.Workspace{}}, api.List[api.Workspace]{Data: []api.Workspace{}}},
		{"GetWorkspace", func(ctx context.Context, c *Client) (any, error) { return c.GetWorkspace(ctx, "ws_1") },
			"GET", "/v1/workspaces/ws_1", "", "", 200, ws, ws},
		{"UpdateWorkspace", func(ctx context.Context, c *Client) (any, error) {
			return c.UpdateWorkspace(ctx, "ws_1", api.UpdateWorkspaceRequest{Tier: ptr("pro"),
				Overrides: map[string]*int64{api.LimitBurst: ptr(int64(5)), api.LimitMaxQueuedTasks: nil}})
		}, "PATCH", "/v1/workspaces/ws_1", "", `{"tier":"pro","overrides":{"burst":5,"max_queued_tasks":null}}`, 200, ws, ws},
		{"DeleteWorkspace", func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteWorkspace(ctx, "ws_1") },
			"DELETE", "/v1/workspaces/ws_1", "", "", 204, nil, nil},
		{"CreateKey", func(ctx context.Context, c *Client) (any, error) {
			return c.CreateKey(ctx, api.CreateKeyRequest{Name: "ci", Scopes: []string{"tasks:read"}, ExpiresIn: "90d"})
		}, "POST", "/v1/keys", "", `{"name":"ci","scopes":["tasks:read"],"expires_in":"90d"}`, 201, withSecret, withSecret},
		{"ListKeys", func(ctx context.Context, c *Client) (any, error) { return c.ListKeys(ctx, ListOptions{Limit: 100}) },
			"GET", "/v1/keys", "limit=100", "", 200, api.List[api.Key]{Data: []api.Key{key}}, api.List[api.Key]{Data: []api.Key{key}}},
		{"GetKey", func(ctx context.Context, c *Client) (any, error) { return c.GetKey(ctx, "key_1") },
			"GET", "/v1/keys/key_1", "", "", 200, key, key},
		{"GetKeyEscapes", func(ctx context.Context, c *Client) (any, error) { return c.GetKey(ctx, "a/b") },
			"GET", "/v1/keys/a%2Fb", "", "", 200, key, key},
		{"RevokeKey", func(ctx context.Context, c *Client) (any, error) { return c.RevokeKey(ctx, "key_1") },
			"DELETE", "/v1/keys/key_1", "", "", 200, revoked, revoked},
		{"RotateKey", func(ctx context.Context, c *Client) (any, error) {
			return c.RotateKey(ctx, "key_1", api.RotateKeyRequest{Grace: "1h"})
		}, "POST", "/v1/keys/key_1/rotate", "", `{"grace":"1h"}`, 200, withSecret, withSecret},
		{"RotateKeyDefaultGrace", func(ctx context.Context, c *Client) (any, error) {
			return c.RotateKey(ctx, "key_1", api.RotateKeyRequest{})
		}, "POST", "/v1/keys/key_1/rotate", "", `{}`, 200, withSecret, withSecret},
		{"Health", func(ctx context.Context, c *Client) (any, error) { return c.Health(ctx) },
			"GET", "/healthz", "", "", 200, api.Health{Status: "ok", Version: "1.0"}, api.Health{Status: "ok", Version: "1.0"}},
		{"Ready", func(ctx context.Context, c *Client) (any, error) { return c.Ready(ctx) },
			"GET", "/readyz", "", "", 200, api.Health{Status: "ok"}, api.Health{Status: "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.resp == nil {
					w.WriteHeader(tc.status)
					return
				}
				writeJSON(w, tc.status, tc.resp)
			})
			got, err := tc.call(context.Background(), b.c)
			if err != nil {
				t.Fatal(err)
			}
			reqs := b.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tc.method || r.Path != tc.path || r.RawQuery != tc.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, tc.method, tc.path, tc.query)
			}
			if tc.body == "" {
				if r.Body != "" || r.Header.Get("Content-Type") != "" {
					t.Errorf("unexpected body %q (Content-Type %q)", r.Body, r.Header.Get("Content-Type"))
				}
			} else {
				if !jsonEqual(t, r.Body, tc.body) {
					t.Errorf("body = %s, want %s", r.Body, tc.body)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			if tc.want == nil {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("bad JSON %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("bad JSON %q: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

func TestReadyNotReady(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, api.Health{Status: "unavailable", Detail: "store unreachable"})
	})
	h, err := b.c.Ready(context.Background())
	if h.Status != "unavailable" {
		t.Errorf("health = %+v", h)
	}
	ae, ok := err.(*APIError)
	if !ok || ae.Code != api.CodeUnavailable || ae.Status != 503 || ae.Detail != "store unreachable" {
		t.Fatalf("err = %#v", err)
	}
	if n := len(b.requests()); n != 1 {
		t.Errorf("readyz retried: %d requests", n)
	}
}
