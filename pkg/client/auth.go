package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/genericcorp/baton/pkg/api"
)

// Token exchanges the client's API key for a session JWT (15 minutes). It
// creates nothing, so it is retried like a GET.
//
// Errors: *APIError (unauthenticated for a missing, bad, expired or revoked
// key); wrapped network errors.
func (c *Client) Token(ctx context.Context, opts ...RequestOption) (api.TokenResponse, error) {
	var t api.TokenResponse
	err := c.Do(ctx, http.MethodPost, "/v1/auth/token", nil, nil, &t, append(opts, markRetryable())...)
	return t, wrap(err, "get session token")
}

// Me describes the caller: its workspace, credential and tier.
//
// Errors: *APIError (unauthenticated, workspace_suspended, …); wrapped network errors.
func (c *Client) Me(ctx context.Context, opts ...RequestOption) (api.Me, error) {
	var me api.Me
	err := c.Do(ctx, http.MethodGet, "/v1/me", nil, nil, &me, opts...)
	return me, wrap(err, "get caller")
}

// Tiers lists the tiers and their limits.
//
// Errors: *APIError (unauthenticated, …); wrapped network errors.
func (c *Client) Tiers(ctx context.Context, opts ...RequestOption) ([]api.Tier, error) {
	var l api.List[api.Tier]
	if err := c.Do(ctx, http.MethodGet, "/v1/tiers", nil, nil, &l, opts...); err != nil {
		return nil, wrap(err, "list tiers")
	}
	return l.Data, nil
}

// Health asks /healthz whether the server is alive. It is not retried: it
// answers for now.
//
// Errors: *APIError for a non-2xx answer; wrapped network errors (connection
// refused when the server is not running).
func (c *Client) Health(ctx context.Context, opts ...RequestOption) (api.Health, error) {
	return c.probe(ctx, "/healthz", "check health", opts)
}

// Ready asks /readyz whether the server can serve (its store is reachable). It
// is not retried: it answers for now. When the server is not ready it returns
// the health body it sent (if any) together with an *APIError of code
// unavailable and status 503.
//
// Errors: *APIError (unavailable when not ready); wrapped network errors.
func (c *Client) Ready(ctx context.Context, opts ...RequestOption) (api.Health, error) {
	return c.probe(ctx, "/readyz", "check readiness", opts)
}

func (c *Client) probe(ctx context.Context, path, what string, opts []RequestOption) (api.Health, error) {
	var h api.Health
	err := c.Do(ctx, http.MethodGet, path, nil, nil, &h, append(opts, noRetry())...)
	var ae *APIError
	if errors.As(err, &ae) && len(ae.body) > 0 {
		var body api.Health
		if json.Unmarshal(ae.body, &body) == nil && body.Status != "" {
			h = body
			if ae.Detail == "" {
				ae.Detail = body.Detail
			}
		}
	}
	return h, wrap(err, "%s", what)
}
