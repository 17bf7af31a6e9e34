package server

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/getsentry/sentry-go"
)

// SentryOptions configure NewSentry.
type SentryOptions struct {
	DSN         string // SENTRY_DSN; none: no client
	Release     string // the server's version
	Environment string
	// Transport replaces the HTTP transport (tests capture events with it).
	Transport sentry.Transport
}

// NewSentry returns the Sentry client of Config.Sentry, or nil (and no
// error) when o.DSN is empty: then nothing is ever sent. Events carry no
// request (no headers, cookies, query or body) and pass ScrubEvent.
// Errors: a malformed DSN.
func NewSentry(o SentryOptions) (*sentry.Client, error) {
	if o.DSN == "" {
		return nil, nil // sentry.NewClient would fall back to $SENTRY_DSN
	}
	return sentry.NewClient(sentry.ClientOptions{
		Dsn: o.DSN, Release: o.Release, Environment: o.Environment, Transport: o.Transport,
		AttachStacktrace: true, SendDefaultPII: false, DisableMetrics: true,
		BeforeSend: func(e *sentry.Event, _ *sentry.EventHint) *sentry.Event { return ScrubEvent(e) },
		// Stack frames without the source lines around them: those are
		// read from disk at send time, and could quote anything.
		Integrations: func(is []sentry.Integration) []sentry.Integration {
			out := is[:0]
			for _, i := range is {
				if i.Name() != "ContextifyFrames" {
					out = append(out, i)
				}
			}
			return out
		},
	})
}

// secretPatterns match what must never leave the server: API keys, JWTs
// (session tokens), a password in a URL's userinfo, and bearer credentials.
var secretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\bba?k_[0-9A-Za-z]{8,}`),
	regexp.MustCompile(`\beyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]*`),
	regexp.MustCompile(`(?i)(bearer\s+)\S+`),
	regexp.MustCompile(`(://[^:/@\s]*:)[^@\s]+@`),
}

// scrub replaces secrets in s.
func scrub(s string) string {
	for i, re := range secretPatterns {
		switch i {
		case 2, 3:
			s = re.ReplaceAllString(s, "${1}[redacted]")
		default:
			s = re.ReplaceAllString(s, "[redacted]")
		}
	}
	return s
}

// ScrubEvent is the client's BeforeSend: it drops the request's headers,
// cookies, query and body (the server never attaches them; this is the
// belt to that braces), and redacts secrets in the message, exceptions,
// tags and breadcrumbs.
func ScrubEvent(e *sentry.Event) *sentry.Event {
	if e.Request != nil {
		e.Request = &sentry.Request{Method: e.Request.Method, URL: scrub(e.Request.URL)}
	}
	e.User = sentry.User{}
	e.Message = scrub(e.Message)
	for i := range e.Exception {
		e.Exception[i].Value = scrub(e.Exception[i].Value)
	}
	for k, v := range e.Tags {
		e.Tags[k] = scrub(v)
	}
	for _, b := range e.Breadcrumbs {
		b.Message = scrub(b.Message)
		b.Data = nil
	}
	return e
}

// report sends a panic (recovered non-nil) or an error to Sentry, tagged
// with the request id, route, method, status, workspace and key ids.
func (s *Server) report(r *http.Request, rt route, p *principal, status int, recovered any, err error) {
	if s.cfg.Sentry == nil {
		return
	}
	scope := sentry.NewScope()
	scope.SetTags(map[string]string{"request_id": requestID(r.Context()), "route": rt.path, "method": r.Method,
		"status": strconv.Itoa(status)})
	if p != nil {
		scope.SetTag("workspace_id", p.workspaceID)
		scope.SetTag("key_id", p.key.ID)
	}
	hub := sentry.NewHub(s.cfg.Sentry, scope)
	if recovered != nil {
		hub.RecoverWithContext(r.Context(), recovered)
		return
	}
	hub.CaptureException(err)
}
