package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/genericcorp/baton/pkg/api"
)

// CreateKey creates an API key in the caller's workspace (scope keys:write).
// The returned Key carries its Secret, shown only this once. A POST, it is
// retried only when the request never left unless WithIdempotencyKey is given.
//
// Errors: *APIError (validation_failed for unknown scopes or a bad expires_in,
// forbidden, …); wrapped network errors.
func (c *Client) CreateKey(ctx context.Context, req api.CreateKeyRequest, opts ...RequestOption) (api.Key, error) {
	var k api.Key
	err := c.Do(ctx, http.MethodPost, "/v1/keys", nil, req, &k, opts...)
	return k, wrap(err, "create key %q", req.Name)
}

// ListKeys returns one page of the workspace's keys, without secrets (scope
// keys:read).
//
// Errors: *APIError (forbidden, invalid_request, …); wrapped network errors.
func (c *Client) ListKeys(ctx context.Context, lo ListOptions, opts ...RequestOption) (api.List[api.Key], error) {
	l, err := listPage[api.Key](ctx, c, "/v1/keys", nil, lo, opts...)
	return l, wrap(err, "list keys")
}

// AllKeys iterates over every key of the workspace, fetching pages of limit
// items (0: the server's default) as the loop goes. An error is yielded once,
// with a zero Key, and ends the iteration.
func (c *Client) AllKeys(ctx context.Context, limit int, opts ...RequestOption) iter.Seq2[api.Key, error] {
	return listAll[api.Key](ctx, c, "keys", "/v1/keys", nil, limit, opts...)
}

// GetKey reads one key, without its secret (scope keys:read).
//
// Errors: *APIError (not_found, forbidden, …); wrapped network errors; an
// error for an empty id.
func (c *Client) GetKey(ctx context.Context, id string, opts ...RequestOption) (api.Key, error) {
	return c.keyCall(ctx, http.MethodGet, id, "", nil, "get key %s", opts)
}

// RevokeKey revokes a key at once and returns it with RevokedAt set (scope
// keys:write).
//
// Errors: *APIError (not_found, forbidden, …); wrapped network errors; an
// error for an empty id.
func (c *Client) RevokeKey(ctx context.Context, id string, opts ...RequestOption) (api.Key, error) {
	return c.keyCall(ctx, http.MethodDelete, id, "", nil, "revoke key %s", opts)
}

// RotateKey gives a key a new secret, returned in the Key's Secret; the old
// one keeps working until PreviousExpiresAt (req.Grace, default 24h). A POST,
// it is retried only when the request never left unless WithIdempotencyKey is
// given.
//
// Errors: *APIError (not_found, validation_failed for a bad grace, forbidden,
// …); wrapped network errors; an error for an empty id.
func (c *Client) RotateKey(ctx context.Context, id string, req api.RotateKeyRequest, opts ...RequestOption) (api.Key, error) {
	return c.keyCall(ctx, http.MethodPost, id, "/rotate", req, "rotate key %s", opts)
}

// keyCall sends method to /v1/keys/{id}{suffix} and decodes a Key.
func (c *Client) keyCall(ctx context.Context, method, id, suffix string, body any, what string, opts []RequestOption) (api.Key, error) {
	var k api.Key
	p, err := pathID(id)
	if err == nil {
		err = c.Do(ctx, method, "/v1/keys/"+p+suffix, nil, body, &k, opts...)
	}
	return k, wrap(err, what, id)
}
