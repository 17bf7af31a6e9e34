package server

import (
	"fmt"
	"html"
	"net/http"
	"strings"

	"github.com/genericcorp/baton/pkg/api"
)

// errorDocs says when each code is returned; /docs/errors renders it so a
// problem's "type" (/docs/errors#code) resolves on the server itself.
var errorDocs = map[api.Code]string{
	api.CodeInvalidRequest:     "Malformed JSON, wrong types, unknown fields, or unknown query values. Fix the request; retrying it unchanged fails again.",
	api.CodeValidationFailed:   "Well-formed but invalid fields; errors[] names each field and what is wrong with it.",
	api.CodeUnauthenticated:    "Missing, malformed, bad-checksum, unknown, expired or revoked credential, or an invalid session token.",
	api.CodeForbidden:          "The credential lacks the scope this route needs, or a workspace key tried to act on another workspace.",
	api.CodeWorkspaceSuspended: "The workspace is suspended by an operator; only GET /v1/me still answers.",
	api.CodeNotFound:           "No such object in the caller's workspace. Another tenant's ids are not found too.",
	api.CodeConflict:           "A unique name is taken, an idempotency key was reused with different parameters, or the object's state forbids the change.",
	api.CodePayloadTooLarge:    "The body is over the limit (1 MiB; task input 256 KiB).",
	api.CodeRequestTimeout:     "The request body did not arrive within the server's read timeout (60 s). Retry on a faster connection, or send a smaller body. Other answers that net/http gives before any handler (a malformed request line or header, a missing Host) are invalid_request with their own status (400, 501, 505).",
	api.CodeHeadersTooLarge:    "The request's headers are over the server's limit (1 MiB in all). Send fewer or shorter headers.",
	api.CodeRateLimited:        "Request rate over a limit: the workspace's (its tier's requests_per_minute and burst), an operator key's, or a client address's (token exchange, failed authentications), or the workspace's open event streams and claim long polls over its max_open_streams; the detail says which. The request was refused before any work, so any method may be retried after the Retry-After header's seconds. RateLimit-Policy and RateLimit say how much is left.",
	api.CodeQuotaExceeded:      "A monthly quota or the spend cap is used up. Retry-After says when the period resets; an operator can raise the limit.",
	api.CodeInternal:           "A bug. The detail never leaks internals; quote the request_id when reporting it.",
	api.CodeUnavailable:        "The store is unreachable or the server is draining. Retry with backoff.",
}

func (s *Server) handleErrorDocs(w http.ResponseWriter, r *http.Request, _ *principal) error {
	var b strings.Builder
	b.WriteString("<!doctype html><meta charset=utf-8><title>baton API errors</title><h1>baton API errors</h1>\n")
	b.WriteString("<p>Errors are RFC 9457 problem details (<code>application/problem+json</code>). Programs switch on <code>code</code>.</p>\n")
	for _, c := range api.Codes() {
		fmt.Fprintf(&b, "<h2 id=%q>%s</h2><p>HTTP %d · %s</p><p>%s</p>\n", string(c), html.EscapeString(string(c)), c.Status(),
			html.EscapeString(c.Title()), html.EscapeString(errorDocs[c]))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err := w.Write([]byte(b.String()))
	return err
}
