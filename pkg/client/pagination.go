package client

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/genericcorp/baton/pkg/api"
)

// ListOptions selects one page of a list: Limit is 1–100 (0 leaves the
// server's default of 20) and Cursor is the NextCursor of the previous page
// ("" for the first page).
type ListOptions struct {
	Limit  int
	Cursor string
}

// listPage fetches one page of the list at path. query carries the list's
// filters (may be nil); opts adds limit and cursor to a copy of it.
func listPage[T any](ctx context.Context, c *Client, path string, query url.Values, opts ListOptions, reqOpts ...RequestOption) (api.List[T], error) {
	q := url.Values{}
	for k, vs := range query {
		q[k] = append([]string(nil), vs...)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	var page api.List[T]
	err := c.Do(ctx, http.MethodGet, path, q, nil, &page, reqOpts...)
	return page, err
}

// listAll iterates over every item of the list at path, page by page,
// following next_cursor until it is null. what names the list in errors
// ("keys"). On an error it yields the zero T with the error and stops; the
// caller may stop early with break.
func listAll[T any](ctx context.Context, c *Client, what, path string, query url.Values, limit int, reqOpts ...RequestOption) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		cursor := ""
		for {
			page, err := listPage[T](ctx, c, path, query, ListOptions{Limit: limit, Cursor: cursor}, reqOpts...)
			if err != nil {
				yield(zero, wrap(err, "list %s", what))
				return
			}
			for _, v := range page.Data {
				if !yield(v, nil) {
					return
				}
			}
			if page.NextCursor == nil || *page.NextCursor == "" {
				return
			}
			if *page.NextCursor == cursor {
				yield(zero, fmt.Errorf("list %s: server returned the same cursor %q again", what, cursor))
				return
			}
			cursor = *page.NextCursor
		}
	}
}
