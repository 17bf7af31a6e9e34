package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/backoff"
)

// idempotent reports whether a method may be repeated without changing the
// outcome (RFC 9110 §9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// retryableStatus reports whether a status is worth another attempt.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryWait decides whether the request that failed with err (on the
// zero-based attempt) is retried and how long to wait first.
//
//   - A 429 rate_limited is retried for any method: the server refuses it
//     before doing any work, so even a POST without an Idempotency-Key is
//     safe to repeat.
//   - Any other *APIError with status 429, 502, 503 or 504 is retried only
//     when the request is retryable (idempotent method, Idempotency-Key, or
//     marked). A quota_exceeded without Retry-After is not retried: it will
//     not clear soon.
//   - Such an error waits Retry-After plus a little jitter (so that clients
//     refused together do not return together) when given, else an
//     exponential backoff with full jitter; a Retry-After longer than
//     maxWait gives up at once, returning the *APIError with its RetryAfter.
//   - A connection error that proves nothing was sent is retried for any method.
//   - An attempt cut by WithRequestTimeout is retried when retryable.
//   - Nothing is retried once ctx is done or when the wait would pass its deadline.
func (c *Client) retryWait(ctx context.Context, err error, attempt, maxRetries int, retryable bool) (time.Duration, bool) {
	if attempt >= maxRetries || ctx.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		rateLimited := ae.Status == http.StatusTooManyRequests && ae.Code == api.CodeRateLimited
		if !(retryable || rateLimited) || !retryableStatus(ae.Status) {
			return 0, false
		}
		switch {
		case ae.RetryAfter > c.maxWait:
			return 0, false
		case ae.RetryAfter > 0:
			wait = min(ae.RetryAfter+c.jitter(retryAfterJitter(ae.RetryAfter)), c.maxWait)
		case ae.Code == api.CodeQuotaExceeded:
			return 0, false
		default:
			wait = c.backoff(attempt)
		}
	case errors.Is(err, ErrRequestTimeout):
		// The server may have acted on it: repeat only what is safe to.
		if !retryable {
			return 0, false
		}
		wait = c.backoff(attempt)
	case notSent(err):
		if c.dialRetries >= 0 && attempt >= c.dialRetries {
			return 0, false
		}
		wait = c.backoff(attempt)
	default:
		return 0, false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return 0, false
	}
	return wait, true
}

// retryAfterJitter is the most a Retry-After wait is stretched by: a
// tenth of it, at most a second.
func retryAfterJitter(retryAfter time.Duration) time.Duration {
	return min(retryAfter/10, time.Second)
}

// backoff is the full-jitter wait before retry number attempt+1: a random
// duration up to min(maxWait, 250ms × 2^attempt).
func (c *Client) backoff(attempt int) time.Duration {
	return c.jitter(backoff.Policy{Base: retryBase, Max: c.maxWait}.Ceiling(attempt + 1))
}

// notSent reports whether err proves the request never reached the server:
// the connection could not be made (dial error, connection refused). A host
// that does not exist is not worth retrying.
func notSent(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect")
}
