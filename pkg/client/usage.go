package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// UsageOptions selects GET /v1/usage: [From, To) by Granularity (hour or
// day). Zero times and "" are not sent (the server's defaults: the current
// billing period by day).
type UsageOptions struct {
	From, To    time.Time
	Granularity string
}

// Usage reads the workspace's usage series and totals (scope usage:read).
//
// Errors: *APIError (invalid_request for a bad range or granularity, …);
// wrapped network errors.
func (c *Client) Usage(ctx context.Context, o UsageOptions, opts ...RequestOption) (api.UsageSeries, error) {
	q := url.Values{}
	if !o.From.IsZero() {
		q.Set("from", o.From.UTC().Format(time.RFC3339))
	}
	if !o.To.IsZero() {
		q.Set("to", o.To.UTC().Format(time.RFC3339))
	}
	if o.Granularity != "" {
		q.Set("granularity", o.Granularity)
	}
	var out api.UsageSeries
	err := c.Do(ctx, http.MethodGet, "/v1/usage", q, nil, &out, opts...)
	return out, wrap(err, "read usage")
}

// Quota reads the workspace's use of its limits in the current billing
// period (scope usage:read).
//
// Errors: *APIError; wrapped network errors.
func (c *Client) Quota(ctx context.Context, opts ...RequestOption) (api.Quota, error) {
	var out api.Quota
	err := c.Do(ctx, http.MethodGet, "/v1/usage/quota", nil, nil, &out, opts...)
	return out, wrap(err, "read quota")
}

// AlertListOptions filters GET /v1/alerts: open alerts only unless All.
type AlertListOptions struct {
	All bool
	ListOptions
}

func (o AlertListOptions) query() url.Values {
	q := url.Values{}
	if o.All {
		q.Set("state", "all")
	}
	return q
}

// ListAlerts returns one page of the workspace's alerts, newest first
// (scope usage:read).
//
// Errors: *APIError; wrapped network errors.
func (c *Client) ListAlerts(ctx context.Context, o AlertListOptions, opts ...RequestOption) (api.List[api.Alert], error) {
	l, err := listPage[api.Alert](ctx, c, "/v1/alerts", o.query(), o.ListOptions, opts...)
	return l, wrap(err, "list alerts")
}

// AllAlerts iterates over every alert o selects, fetching pages as the loop
// goes; an error is yielded once and ends the iteration.
func (c *Client) AllAlerts(ctx context.Context, o AlertListOptions, opts ...RequestOption) iter.Seq2[api.Alert, error] {
	return listAll[api.Alert](ctx, c, "alerts", "/v1/alerts", o.query(), o.Limit, opts...)
}

// AckAlert acknowledges an alert (scope usage:read) and returns it.
// Acknowledging twice is not an error (the first time is kept), so the
// request is retried.
//
// Errors: *APIError (not_found, …); wrapped network errors; an error for an
// empty id.
func (c *Client) AckAlert(ctx context.Context, id string, opts ...RequestOption) (api.Alert, error) {
	p, err := pathID(id)
	if err != nil {
		return api.Alert{}, wrap(err, "ack alert")
	}
	var out api.Alert
	err = c.Do(ctx, http.MethodPost, "/v1/alerts/"+p+"/ack", nil, nil, &out, append(opts, markRetryable())...)
	return out, wrap(err, "ack alert %s", id)
}

// AdminCosts reads every workspace's revenue, cost and margin for period
// ("YYYY-MM"; "" is the current one), worst margin first (operator key).
//
// Errors: *APIError (forbidden, invalid_request, …); wrapped network errors.
func (c *Client) AdminCosts(ctx context.Context, period string, opts ...RequestOption) (api.CostReport, error) {
	q := url.Values{}
	if period != "" {
		q.Set("period", period)
	}
	var out api.CostReport
	err := c.Do(ctx, http.MethodGet, "/v1/admin/costs", q, nil, &out, opts...)
	return out, wrap(err, "read costs")
}

// AdminUsage reads every workspace's quota snapshot, the closest to a
// limit first (operator key).
//
// Errors: *APIError (forbidden, …); wrapped network errors.
func (c *Client) AdminUsage(ctx context.Context, opts ...RequestOption) ([]api.Quota, error) {
	var out api.List[api.Quota]
	err := c.Do(ctx, http.MethodGet, "/v1/admin/usage", nil, nil, &out, opts...)
	return out.Data, wrap(err, "read usage of every workspace")
}

// Connection states of a quota watch.
const (
	WatchLive         = "live"         // the event stream is open
	WatchReconnecting = "reconnecting" // the stream dropped; retrying with backoff
	WatchPolling      = "polling"      // the stream is unavailable: polling GET /v1/usage/quota
)

// QuotaUpdate is one message of WatchQuota: a new snapshot, or a change of
// connection state (Quota nil), or an error that ended the watch (Err set,
// then the channel closes).
type QuotaUpdate struct {
	Quota *api.Quota
	State string
	Err   error
}

// WatchOptions tunes WatchQuota. Zero values take the defaults.
type WatchOptions struct {
	// PollInterval is how often the polling fallback reads the quota
	// (default 2 s).
	PollInterval time.Duration
	// StreamFailures is how many stream attempts in a row may fail before
	// the watch falls back to polling (default 3). A server without the
	// stream (404, 405) falls back at once.
	StreamFailures int
	// PollRounds is how many polls the fallback makes before it tries the
	// stream again (default 30): a live view sets it low so that "polling"
	// gives way to "live" soon after the stream is back.
	PollRounds int
}

// WatchQuota follows the workspace's quota snapshots (scope usage:read):
// from GET /v1/usage/stream while it is open, reconnecting with backoff
// when it drops and resuming with Last-Event-ID; when the stream keeps
// failing it polls GET /v1/usage/quota instead, and tries the stream again
// now and then. Snapshots are absolute (totals, not deltas) and never older
// than one already sent, so a reconnect never counts anything twice. The
// channel closes when ctx ends, or after an error that retrying cannot cure
// (bad key, missing scope), sent as the last update.
func (c *Client) WatchQuota(ctx context.Context, o WatchOptions) <-chan QuotaUpdate {
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.StreamFailures <= 0 {
		o.StreamFailures = 3
	}
	ch := make(chan QuotaUpdate, 1)
	go func() {
		defer close(ch)
		w := watcher{c: c, ch: ch, o: o}
		err := w.run(ctx)
		if err != nil && ctx.Err() == nil {
			w.send(ctx, QuotaUpdate{Err: err})
		}
	}()
	return ch
}

type watcher struct {
	c     *Client
	ch    chan<- QuotaUpdate
	o     WatchOptions
	last  time.Time // At of the newest snapshot sent
	seq   int64     // SSE id of the newest snapshot read
	state string
}

func (w *watcher) send(ctx context.Context, u QuotaUpdate) bool {
	select {
	case w.ch <- u:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *watcher) setState(ctx context.Context, s string) bool {
	if s == w.state {
		return true
	}
	w.state = s
	return w.send(ctx, QuotaUpdate{State: s})
}

// deliver sends q unless it is not newer than the last snapshot sent: an
// older one, or the same one again (a stream replays its latest snapshot
// when it reconnects; a poll may read one the stream already sent).
func (w *watcher) deliver(ctx context.Context, q api.Quota) bool {
	if !w.last.IsZero() && !q.At.After(w.last) {
		return true
	}
	w.last = q.At
	return w.send(ctx, QuotaUpdate{Quota: &q, State: w.state})
}

// fatal reports errors that neither a reconnect nor polling can cure.
func fatal(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.Status == http.StatusUnauthorized || apiErr.Status == http.StatusForbidden
}

// unsupported reports a server that has no usage stream.
func unsupported(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || apiErr.Status == http.StatusMethodNotAllowed)
}

func (w *watcher) run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		err := w.stream(ctx, &failures)
		if ctx.Err() != nil {
			return nil
		}
		if fatal(err) {
			return err
		}
		failures++
		if failures < w.o.StreamFailures && !unsupported(err) {
			if !w.setState(ctx, WatchReconnecting) {
				return nil
			}
			wait := w.c.backoff(failures - 1)
			w.c.tracef("* usage stream dropped (%v); reconnecting in %s\n", err, wait)
			if w.c.sleep(ctx, wait) != nil {
				return nil
			}
			continue
		}
		// Poll for a while, then give the stream another chance.
		rounds := w.o.PollRounds
		if rounds <= 0 {
			rounds = 30
		}
		if err := w.poll(ctx, rounds); err != nil {
			return err
		}
		failures = 0
	}
	return nil
}

// stream reads snapshots until the stream ends; failures is reset once it
// opens.
func (w *watcher) stream(ctx context.Context, failures *int) error {
	return w.c.followOnce(ctx, "/v1/usage/stream", &w.seq, func(ev sseEvent) error {
		*failures = 0
		if !w.setState(ctx, WatchLive) {
			return ctx.Err()
		}
		if ev.Event != "quota" {
			return nil
		}
		var q api.Quota
		if err := json.Unmarshal([]byte(ev.Data), &q); err != nil {
			return fmt.Errorf("decode quota snapshot: %w", err)
		}
		if id, err := strconv.ParseInt(ev.ID, 10, 64); err == nil && id > w.seq {
			w.seq = id // a replayed, older snapshot does not move the resume point back
		}
		if !w.deliver(ctx, q) {
			return ctx.Err()
		}
		return nil
	})
}

// poll reads the quota rounds times at the poll interval.
func (w *watcher) poll(ctx context.Context, rounds int) error {
	if !w.setState(ctx, WatchPolling) {
		return nil
	}
	for i := 0; i < rounds && ctx.Err() == nil; i++ {
		q, err := w.c.Quota(ctx)
		switch {
		case err == nil:
			if !w.deliver(ctx, q) {
				return nil
			}
		case fatal(err):
			return err
		default:
			w.c.tracef("* polling quota: %v\n", err)
		}
		if w.c.sleep(ctx, w.o.PollInterval) != nil {
			return nil
		}
	}
	return nil
}
