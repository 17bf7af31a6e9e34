package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// RequestOption changes one request made with Do or a typed method.
type RequestOption func(*requestConfig)

type requestConfig struct {
	header    http.Header
	retryable bool // safe to retry although the method is not idempotent
	noRetry   bool // never retry (health probes answer for "now")
	// longPoll is how long the server may hold the request on purpose; it
	// is added to the request timeout.
	longPoll time.Duration
}

// longPoll says the server may hold the request for d before answering
// (a claim's wait): WithRequestTimeout's bound is d longer for it.
func longPoll(d time.Duration) RequestOption {
	return func(rc *requestConfig) { rc.longPoll = max(d, 0) }
}

// WithIdempotencyKey sends an Idempotency-Key header, which also makes a POST
// retryable on 429, 502, 503 and 504.
func WithIdempotencyKey(key string) RequestOption {
	return WithHeader(api.HeaderIdempotencyKey, key)
}

// WithHeader sets a request header, replacing any value the client would send
// (X-Request-Id, Baton-Workspace, …). An empty value removes the header.
func WithHeader(key, value string) RequestOption {
	return func(rc *requestConfig) {
		if value == "" {
			rc.header[http.CanonicalHeaderKey(key)] = nil // removed in attempt
			return
		}
		rc.header.Set(key, value)
	}
}

// markRetryable marks a non-idempotent request as safe to retry: it creates
// nothing (POST /v1/auth/token, say).
func markRetryable() RequestOption { return func(rc *requestConfig) { rc.retryable = true } }

// noRetry disables retries for one request.
func noRetry() RequestOption { return func(rc *requestConfig) { rc.noRetry = true } }

// Do sends one API request and decodes a 2xx JSON response into out (nil to
// discard it). path starts with "/" and is joined to the base URL; query may be
// nil. A non-nil body is encoded once with encoding/json (use json.RawMessage
// for JSON already encoded) and re-sent as-is on each retry. Every typed
// method goes through Do.
//
// Errors: a *APIError (unwrapped) for a non-2xx response, after any retries;
// the *url.Error of the HTTP client for a network failure; a wrapped
// ErrResponseTooLarge when the body exceeds the cap; the context's error,
// wrapped, when ctx ends while waiting to retry; a wrapped encoding/json error
// when the body cannot be encoded or the response decoded.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any, opts ...RequestOption) error {
	rc := requestConfig{header: make(http.Header, 1)} // the request id
	for _, o := range opts {
		o(&rc)
	}
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("%s %s: path must start with /", method, path)
	}
	u := c.baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("%s %s: encode request body: %w", method, path, err)
		}
	}
	if _, set := rc.header[api.HeaderRequestID]; !set {
		// One id for every attempt of this call: the server meters a
		// request once per id, so a retried call counts once.
		rc.header[api.HeaderRequestID] = []string{newRequestID()}
	}
	retryable := rc.retryable || idempotent(method) || rc.header.Get(api.HeaderIdempotencyKey) != ""
	maxRetries := c.maxRetries
	if rc.noRetry {
		maxRetries = 0
	}
	for attempt := 0; ; attempt++ {
		err := c.attempt(ctx, method, u, payload, rc.header, out, rc.longPoll)
		if err == nil {
			return nil
		}
		wait, ok := c.retryWait(ctx, err, attempt, maxRetries, retryable)
		if !ok {
			if _, isAPI := err.(*APIError); !isAPI && attempt > 0 {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt+1)
			}
			return err
		}
		c.tracef("* retrying %s %s in %s (retry %d of %d): %v\n", method, path, wait, attempt+1, maxRetries, err)
		if serr := c.sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%s %s: %w while waiting to retry (last error: %v)", method, path, serr, err)
		}
	}
}

// attempt sends the request once and handles its response.
func (c *Client) attempt(ctx context.Context, method, u string, payload []byte, extra http.Header, out any, held time.Duration) error {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	bound := c.reqTimeout
	if bound > 0 {
		bound += held
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, bound, ErrRequestTimeout)
		defer cancel()
	}
	err := c.send(ctx, method, u, rd, payload, extra, out)
	if err != nil && bound > 0 && errors.Is(context.Cause(ctx), ErrRequestTimeout) {
		if _, isAPI := err.(*APIError); !isAPI {
			return &timeoutError{method: method, u: u, d: bound, err: err}
		}
	}
	return err
}

// timeoutError is a request cut by WithRequestTimeout.
type timeoutError struct {
	method, u string
	d         time.Duration
	err       error
}

func (e *timeoutError) Error() string {
	p := e.u
	if pu, err := url.Parse(e.u); err == nil {
		p = pu.Path
	}
	return fmt.Sprintf("%s %s: no answer within %s", e.method, p, e.d)
}

func (e *timeoutError) Unwrap() []error { return []error{ErrRequestTimeout, e.err} }

// send builds the request, sends it and handles its response.
func (c *Client) send(ctx context.Context, method, u string, rd io.Reader, payload []byte, extra http.Header, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	for k, vs := range c.fixed {
		h[k] = vs
	}
	if payload != nil {
		h["Content-Type"] = jsonType
	}
	for k, vs := range extra {
		if len(vs) == 0 {
			h.Del(k)
		} else {
			h[k] = vs
		}
	}

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.traceError(req, payload, err, time.Since(start))
		return err
	}
	defer resp.Body.Close()
	data, rerr := readLimited(resp, c.maxBytes)
	c.traceExchange(req, payload, resp, data, rerr, time.Since(start))
	if rerr != nil {
		return fmt.Errorf("%s %s: read response: %w", method, req.URL.Path, rerr)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp, data, c.now())
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%s %s: decode response: empty body with status %d", method, req.URL.Path, resp.StatusCode)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, req.URL.Path, err)
	}
	return nil
}

// readLimited reads the whole body, failing with ErrResponseTooLarge past max bytes.
func readLimited(resp *http.Response, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrResponseTooLarge, resp.ContentLength, max)
	}
	// Sized for the whole body when its length is known (and one byte
	// more, to see the end), rather than grown from 512 bytes by copies.
	size := 512
	if resp.ContentLength >= 0 {
		size = int(resp.ContentLength) + 1
	}
	data, err := readAll(io.LimitReader(resp.Body, max+1), make([]byte, 0, size))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: over the limit of %d bytes", ErrResponseTooLarge, max)
	}
	return data, nil
}

// readAll is io.ReadAll into buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// jsonType is the Content-Type of a request body, shared by every request.
var jsonType = []string{"application/json"}

// requestIDAlphabet is lower-case RFC 4648 base32, as strings.ToLower of
// crypto/rand.Text.
const requestIDAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// newRequestID returns "req_" and 26 random base32 characters (130 bits,
// like crypto/rand.Text, lower-cased), made in one buffer.
func newRequestID() string {
	const n = 26
	var b [4 + n]byte
	copy(b[:], "req_")
	rand.Read(b[4:]) // crypto/rand.Read never fails
	for i := 4; i < len(b); i++ {
		b[i] = requestIDAlphabet[b[i]%32] // 256 is a multiple of 32: uniform
	}
	return string(b[:])
}

// wrap prefixes err with what was being done, except for an *APIError, which
// already says what went wrong and is returned as-is.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*APIError); ok {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// pathID checks an id that goes into a path and escapes it.
func pathID(id string) (string, error) {
	if strings.TrimSpace(id) == "" {
		return "", errors.New("empty id")
	}
	return pathSegment(id), nil
}

// pathSegment escapes s as one segment of a path. A segment "." or ".."
// is escaped too ("%2E"): sent as is, a server's router would resolve it
// as a relative path and never see the name (a step key ".." was a 404 of
// no route, found by FuzzStepKey).
func pathSegment(s string) string {
	if s == "." || s == ".." {
		return strings.Repeat("%2E", len(s))
	}
	return url.PathEscape(s)
}
