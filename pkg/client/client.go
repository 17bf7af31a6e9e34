// Package client is the typed Go client of the baton HTTP API (CONTRACT.md).
//
// Every method takes a context first and returns typed values from pkg/api.
// A problem response (RFC 9457) comes back as a *APIError, unwrapped, so
// errors.As, a type assertion or IsCode all work; any other failure (network,
// encoding, a response over the size cap) is wrapped with what was being done.
//
// Requests are retried with exponential backoff and full jitter on 429, 502,
// 503 and 504 when they are idempotent, on a 429 rate_limited whatever the
// method (the server refuses it before doing any work), and on connection
// errors that prove the request was never sent; Retry-After is honoured,
// with a little jitter. A Client is safe for concurrent use.
package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// Defaults of the options.
const (
	DefaultMaxRetries       = 4
	DefaultMaxWait          = 30 * time.Second
	DefaultMaxResponseBytes = 8 << 20
	// retryBase is the first backoff ceiling; it doubles on every retry.
	retryBase = 250 * time.Millisecond
)

// Client talks to one baton server. Create it with New.
type Client struct {
	baseURL   string
	apiKey    string
	workspace string
	userAgent string
	hc        *http.Client
	// fixed are the headers every request of Do sends (Accept,
	// User-Agent, Authorization, Baton-Workspace), made once in New: their
	// value slices are shared by every request, which only reads them.
	fixed http.Header

	maxRetries int
	// dialRetries caps the retries of a request that never left (connection
	// refused); < 0 means maxRetries.
	dialRetries int
	maxWait     time.Duration
	maxBytes    int64
	// reqTimeout bounds each attempt of a request (0: no bound).
	reqTimeout time.Duration

	debug   io.Writer
	debugMu sync.Mutex

	// Hooks replaced by tests.
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(ceiling time.Duration) time.Duration
	now    func() time.Time
}

// Option configures a Client in New.
type Option func(*Client)

// WithAPIKey sets the credential sent as "Authorization: Bearer <key>": an API
// key (bk_…, bak_…) or a session JWT. Surrounding whitespace is trimmed.
func WithAPIKey(key string) Option {
	return func(c *Client) { c.apiKey = strings.TrimSpace(key) }
}

// WithWorkspace sets the Baton-Workspace header, which makes an operator
// (admin) key act on that workspace.
func WithWorkspace(id string) Option {
	return func(c *Client) { c.workspace = strings.TrimSpace(id) }
}

// WithHTTPClient sets the HTTP client used for requests (nil keeps the default).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent to "baton/<version>".
func WithUserAgent(version string) Option {
	return func(c *Client) {
		if version = strings.TrimSpace(version); version != "" {
			c.userAgent = "baton/" + version
		}
	}
}

// WithDebug writes an HTTP trace of every attempt to w: method, URL, status,
// duration, headers and bodies, with credentials and secrets redacted.
func WithDebug(w io.Writer) Option {
	return func(c *Client) { c.debug = w }
}

// WithRetry sets how many times a request is retried (0 disables retries; a
// negative value counts as 0) and the longest single wait between attempts
// (≤ 0 keeps the default of 30s). A Retry-After longer than maxWait is not
// waited for: the error is returned at once.
func WithRetry(maxRetries int, maxWait time.Duration) Option {
	return func(c *Client) {
		c.maxRetries = max(maxRetries, 0)
		if maxWait > 0 {
			c.maxWait = maxWait
		}
	}
}

// WithDialRetries caps how often a request that could not connect
// (connection refused, dial error) is retried, below the WithRetry count:
// 0 fails at once, what an interactive CLI wants when the server is down.
// Other retries are unchanged.
func WithDialRetries(n int) Option {
	return func(c *Client) { c.dialRetries = max(n, 0) }
}

// WithRequestTimeout bounds each HTTP request: every attempt (a retry
// gets a fresh bound) must be answered, body included, within d; for an
// event stream, d bounds only the wait for the response headers, so a
// stream stays open as long as ctx allows. A request cut by d fails with
// an error wrapping ErrRequestTimeout, and is retried only when it is safe
// to repeat (idempotent method, Idempotency-Key). d ≤ 0 sets no bound
// (the default). The context passed to each call still bounds the whole
// call, retries and waits included.
func WithRequestTimeout(d time.Duration) Option {
	return func(c *Client) { c.reqTimeout = max(d, 0) }
}

// ErrRequestTimeout is wrapped by the error of a request that the bound of
// WithRequestTimeout cut.
var ErrRequestTimeout = errors.New("request timed out")

// WithMaxResponseBytes caps the size of a response body (default 8 MiB; ≤ 0
// keeps the default). A larger body fails with ErrResponseTooLarge.
func WithMaxResponseBytes(n int64) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxBytes = n
		}
	}
}

// withTestHooks replaces sleeping between retries and the jitter source.
func withTestHooks(sleep func(context.Context, time.Duration) error, jitter func(time.Duration) time.Duration) Option {
	return func(c *Client) {
		if sleep != nil {
			c.sleep = sleep
		}
		if jitter != nil {
			c.jitter = jitter
		}
	}
}

// withClock replaces time.Now (used for HTTP-date Retry-After values).
func withClock(now func() time.Time) Option {
	return func(c *Client) { c.now = now }
}

// New returns a client for the server at baseURL, an http or https URL
// (a path prefix is allowed; a trailing slash is trimmed). It returns an
// error when baseURL is not such a URL.
func New(baseURL string, opts ...Option) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("invalid server URL %q: %w", baseURL, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("invalid server URL %q: scheme must be http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("invalid server URL %q: no host", baseURL)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, fmt.Errorf("invalid server URL %q: must not have credentials, a query or a fragment", baseURL)
	}
	c := &Client{
		baseURL:     base,
		userAgent:   "baton/dev",
		hc:          http.DefaultClient,
		maxRetries:  DefaultMaxRetries,
		dialRetries: -1,
		maxWait:     DefaultMaxWait,
		maxBytes:    DefaultMaxResponseBytes,
		sleep:       sleepCtx,
		jitter:      fullJitter,
		now:         time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	c.fixed = http.Header{"Accept": {"application/json, " + api.ProblemContentType}, "User-Agent": {c.userAgent}}
	if c.apiKey != "" {
		c.fixed["Authorization"] = []string{"Bearer " + c.apiKey}
	}
	if c.workspace != "" {
		c.fixed[api.HeaderWorkspace] = []string{c.workspace}
	}
	return c, nil
}

// BaseURL returns the server URL the client talks to, without a trailing slash.
func (c *Client) BaseURL() string { return c.baseURL }

// ErrResponseTooLarge is returned (wrapped) when a response body exceeds the
// limit set with WithMaxResponseBytes.
var ErrResponseTooLarge = errors.New("response body too large")

// sleepCtx waits for d or until ctx is done, returning ctx.Err() then.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fullJitter returns a uniformly random duration in [0, ceiling].
func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}
