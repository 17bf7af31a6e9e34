package client

import (
	"context"
	"iter"
	"net/http"

	"github.com/genericcorp/baton/pkg/api"
)

// CreateWorkspace creates a workspace and its first key, whose Secret is
// shown only in this response. It needs an operator (admin) key. A POST, it
// is retried only when the request never left (connection refused) unless
// WithIdempotencyKey is given.
//
// Errors: *APIError (forbidden, validation_failed, conflict, …); wrapped
// network errors.
func (c *Client) CreateWorkspace(ctx context.Context, req api.CreateWorkspaceRequest, opts ...RequestOption) (api.CreateWorkspaceResponse, error) {
	var r api.CreateWorkspaceResponse
	err := c.Do(ctx, http.MethodPost, "/v1/workspaces", nil, req, &r, opts...)
	return r, wrap(err, "create workspace %q", req.Name)
}

// ListWorkspaces returns one page of workspaces (admin keys).
//
// Errors: *APIError (forbidden, invalid_request for a bad limit or cursor,
// …); wrapped network errors.
func (c *Client) ListWorkspaces(ctx context.Context, lo ListOptions, opts ...RequestOption) (api.List[api.Workspace], error) {
	l, err := listPage[api.Workspace](ctx, c, "/v1/workspaces", nil, lo, opts...)
	return l, wrap(err, "list workspaces")
}

// AllWorkspaces iterates over every workspace, fetching pages of limit items
// (0: the server's default) as the loop goes. An error is yielded once, with
// a zero Workspace, and ends the iteration.
func (c *Client) AllWorkspaces(ctx context.Context, limit int, opts ...RequestOption) iter.Seq2[api.Workspace, error] {
	return listAll[api.Workspace](ctx, c, "workspaces", "/v1/workspaces", nil, limit, opts...)
}

// GetWorkspace reads one workspace (any key may read its own).
//
// Errors: *APIError (not_found, forbidden, …); wrapped network errors; an
// error for an empty id.
func (c *Client) GetWorkspace(ctx context.Context, id string, opts ...RequestOption) (api.Workspace, error) {
	var w api.Workspace
	p, err := pathID(id)
	if err == nil {
		err = c.Do(ctx, http.MethodGet, "/v1/workspaces/"+p, nil, nil, &w, opts...)
	}
	return w, wrap(err, "get workspace %s", id)
}

// UpdateWorkspace changes a workspace's name, tier, status or overrides
// (admin keys); absent fields are left alone. A PATCH, it is retried only
// when the request never left.
//
// Errors: *APIError (not_found, validation_failed, forbidden, …); wrapped
// network errors; an error for an empty id.
func (c *Client) UpdateWorkspace(ctx context.Context, id string, req api.UpdateWorkspaceRequest, opts ...RequestOption) (api.Workspace, error) {
	var w api.Workspace
	p, err := pathID(id)
	if err == nil {
		err = c.Do(ctx, http.MethodPatch, "/v1/workspaces/"+p, nil, req, &w, opts...)
	}
	return w, wrap(err, "update workspace %s", id)
}

// DeleteWorkspace deletes a workspace (admin keys).
//
// Errors: *APIError (not_found, forbidden, conflict, …); wrapped network
// errors; an error for an empty id.
func (c *Client) DeleteWorkspace(ctx context.Context, id string, opts ...RequestOption) error {
	p, err := pathID(id)
	if err == nil {
		err = c.Do(ctx, http.MethodDelete, "/v1/workspaces/"+p, nil, nil, nil, opts...)
	}
	return wrap(err, "delete workspace %s", id)
}
