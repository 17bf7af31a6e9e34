package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/genericcorp/baton/pkg/api"
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
//   - An *APIError with status 429, 502, 503 or 504 is retried only when the
//     request is retryable (idempotent method, Idempotency-Key, or marked). It
//     waits Retry-After when given, else an exponential backoff with full
//     jitter; a Retry-After longer than maxWait gives up at once. A
//     quota_exceeded without Retry-After is not retried: it will not clear soon.
//   - A connection error that proves nothing was sent is retried for any method.
//   - Nothing is retried once ctx is done or when the wait would pass its deadline.
func (c *Client) retryWait(ctx context.Context, err error, attempt, maxRetries int, retryable bool) (time.Duration, bool) {
	if attempt >= maxRetries || ctx.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		if !retryable || !retryableStatus(ae.Status) {
			return 0, false
		}
		switch {
		case ae.RetryAfter > c.maxWait:
			return 0, false
		case ae.RetryAfter > 0:
			wait = ae.RetryAfter
		case ae.Code == api.CodeQuotaExceeded:
			return 0, false
		default:
			wait = c.backoff(attempt)
		}
	case notSent(err):
		wait = c.backoff(attempt)
	default:
		return 0, false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return 0, false
	}
	return wait, true
}

// backoff is the full-jitter wait before retry number attempt+1: a random
// duration up to min(maxWait, 250ms × 2^attempt).
func (c *Client) backoff(attempt int) time.Duration {
	ceiling := c.maxWait
	if attempt < 30 {
		ceiling = min(retryBase<<attempt, c.maxWait)
	}
	return c.jitter(ceiling)
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
