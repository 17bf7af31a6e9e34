package client

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// maxTraceBody is how much of a body the debug trace shows.
const maxTraceBody = 16 << 10

const redacted = "[redacted]"

var (
	// secretFieldRE matches a JSON member whose name contains "secret" or
	// "token" and whose value is a string; group 1 is everything before the value.
	secretFieldRE = regexp.MustCompile(`("[^"\\]*(?i:secret|token)[^"\\]*"\s*:\s*)"(?:[^"\\]|\\.)*"`)
	// apiKeyRE matches a workspace (bk_) or operator (bak_) key; the public
	// prefix shown by the API (8 characters) is too short to match.
	apiKeyRE = regexp.MustCompile(`ba?k_[0-9A-Za-z]{16,}`)
	// jwtRE matches a compact JWS (a session token).
	jwtRE = regexp.MustCompile(`eyJ[0-9A-Za-z_-]{4,}\.[0-9A-Za-z_-]{4,}\.[0-9A-Za-z_-]*`)
)

// redact removes secrets from a trace line or body: JSON "secret"/"token"
// values, API keys and JWTs.
func redact(s string) string {
	s = secretFieldRE.ReplaceAllString(s, `${1}"`+redacted+`"`)
	s = apiKeyRE.ReplaceAllStringFunc(s, func(m string) string {
		return m[:strings.IndexByte(m, '_')+1] + redacted
	})
	return jwtRE.ReplaceAllString(s, redacted)
}

// redactHeader returns the value of header name as the trace shows it.
func redactHeader(name, value string) string {
	lower := strings.ToLower(name)
	switch {
	case lower == "authorization" || lower == "proxy-authorization":
		if scheme, _, ok := strings.Cut(value, " "); ok {
			return scheme + " " + redacted
		}
		return redacted
	case lower == "cookie" || lower == "set-cookie" ||
		strings.Contains(lower, "secret") || strings.Contains(lower, "token"):
		return redacted
	}
	return redact(value)
}

// tracef writes a redacted line to the debug trace, if any.
func (c *Client) tracef(format string, args ...any) {
	if c.debug == nil {
		return
	}
	c.writeTrace(redact(fmt.Sprintf(format, args...)))
}

func (c *Client) writeTrace(s string) {
	c.debugMu.Lock()
	defer c.debugMu.Unlock()
	_, _ = io.WriteString(c.debug, s)
}

// traceRequest writes the request part of an exchange to b.
func traceRequest(b *strings.Builder, req *http.Request, payload []byte) {
	fmt.Fprintf(b, "> %s %s\n", req.Method, redact(req.URL.String()))
	writeHeaders(b, "> ", req.Header)
	if len(payload) > 0 {
		b.WriteString(">\n")
		writeBody(b, payload)
	}
}

// traceExchange writes a request and its response to the trace.
func (c *Client) traceExchange(req *http.Request, payload []byte, resp *http.Response, body []byte, readErr error, d time.Duration) {
	if c.debug == nil {
		return
	}
	var b strings.Builder
	traceRequest(&b, req, payload)
	fmt.Fprintf(&b, "< %s %s (%s)\n", resp.Proto, resp.Status, d.Round(time.Microsecond))
	writeHeaders(&b, "< ", resp.Header)
	switch {
	case readErr != nil:
		fmt.Fprintf(&b, "<\n< (body not read: %s)\n", redact(readErr.Error()))
	case len(body) > 0:
		b.WriteString("<\n")
		writeBody(&b, body)
	}
	b.WriteString("\n")
	c.writeTrace(b.String())
}

// traceError writes a request that got no response to the trace.
func (c *Client) traceError(req *http.Request, payload []byte, err error, d time.Duration) {
	if c.debug == nil {
		return
	}
	var b strings.Builder
	traceRequest(&b, req, payload)
	fmt.Fprintf(&b, "! error after %s: %s\n\n", d.Round(time.Microsecond), redact(err.Error()))
	c.writeTrace(b.String())
}

func writeHeaders(b *strings.Builder, prefix string, h http.Header) {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			fmt.Fprintf(b, "%s%s: %s\n", prefix, k, redactHeader(k, v))
		}
	}
}

// writeBody writes a redacted body, cut at maxTraceBody; binary bodies are
// summarised.
func writeBody(b *strings.Builder, body []byte) {
	if !utf8.Valid(body) {
		fmt.Fprintf(b, "[%d bytes of binary data]\n", len(body))
		return
	}
	s := redact(string(body))
	if len(s) > maxTraceBody {
		cut := maxTraceBody
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = fmt.Sprintf("%s… [%d bytes in all]", s[:cut], len(body))
	}
	b.WriteString(strings.TrimRight(s, "\n"))
	b.WriteString("\n")
}
