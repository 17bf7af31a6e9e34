package client

import (
	"context"

	"github.com/genericcorp/baton/pkg/api"
)

// ListWorkers returns the workers seen polling in the last minute (scope
// tasks:read): the workspace's own, or every worker for an operator key
// without Baton-Workspace. The list is not paginated: next_cursor is null.
//
// Errors: *APIError (forbidden, …); wrapped network errors.
func (c *Client) ListWorkers(ctx context.Context, opts ...RequestOption) ([]api.Worker, error) {
	l, err := listPage[api.Worker](ctx, c, "/v1/workers", nil, ListOptions{}, opts...)
	return l.Data, wrap(err, "list workers")
}

// ListQueues returns the workspace's queues with their task counts per
// state and their pollers (scope tasks:read). Not paginated.
//
// Errors: *APIError (forbidden, …); wrapped network errors.
func (c *Client) ListQueues(ctx context.Context, opts ...RequestOption) ([]api.Queue, error) {
	l, err := listPage[api.Queue](ctx, c, "/v1/queues", nil, ListOptions{}, opts...)
	return l.Data, wrap(err, "list queues")
}
