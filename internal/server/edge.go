package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/pkg/api"
)

// net/http answers some requests itself, before any handler runs: headers
// over MaxHeaderBytes (431), a malformed request line or header, a missing
// Host (400), an unknown transfer coding (501), and writes them straight to
// the connection as text/plain. problemListener's connections recognise
// those canned answers by their exact shape (a status line, then
// "Content-Type: text/plain; charset=utf-8" and "Connection: close" in this
// unsorted order, which net/http never produces for a handler's response,
// whose headers are sorted and carry X-Request-Id) and write an RFC 9457
// problem instead, so every answer of the API is problem+json.

var cannedAnswer = regexp.MustCompile(`\AHTTP/1\.1 (\d{3}) [^\r\n]*\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n`)

// problemListener wraps the listener the server accepts on.
type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

// problemConn rewrites net/http's canned error answers (see above).
type problemConn struct{ net.Conn }

func (c *problemConn) Write(b []byte) (int, error) {
	if !mayBeCanned(b) {
		return c.Conn.Write(b)
	}
	m := cannedAnswer.FindSubmatch(b)
	if m == nil {
		return c.Conn.Write(b)
	}
	status, _ := strconv.Atoi(string(m[1]))
	if _, err := c.Conn.Write(cannedProblem(status, string(b[len(m[0]):]))); err != nil {
		return 0, err
	}
	return len(b), nil
}

// cannedHeaders are the headers that follow the status line of a canned
// answer (see cannedAnswer).
var cannedHeaders = []byte("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// mayBeCanned is a quick test that every write matching cannedAnswer
// passes (its first line break ends the status line, and the canned
// headers follow it), so that the regexp runs for canned answers only,
// not for every response the server writes.
func mayBeCanned(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) {
		return false
	}
	i := bytes.Index(b, []byte("\r\n"))
	return i >= 0 && bytes.HasPrefix(b[i+2:], cannedHeaders)
}

// CloseWrite lets net/http half-close the connection after a 431, as it
// does on a bare TCP connection.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// cannedProblem is the full HTTP response replacing net/http's answer of
// status with text (its body, like "400 Bad Request: missing required Host
// header").
func cannedProblem(status int, text string) []byte {
	code := api.CodeInvalidRequest
	if status == http.StatusRequestHeaderFieldsTooLarge {
		code = api.CodeHeadersTooLarge
	}
	detail := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(text, strconv.Itoa(status)), " "+http.StatusText(status)))
	detail = strings.TrimSpace(strings.TrimPrefix(detail, ":"))
	if detail == "" {
		detail = "the request could not be read as HTTP/1.1"
		if code == api.CodeHeadersTooLarge {
			detail = "the request's headers are over the server's limit"
		}
	}
	p := api.NewProblem(code, detail)
	p.Status = status
	p.RequestID = ids.New(ids.Request)
	body, _ := json.Marshal(p)
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nCache-Control: no-store\r\n%s: %s\r\nConnection: close\r\nContent-Length: %d\r\n\r\n",
		status, http.StatusText(status), api.ProblemContentType, api.HeaderRequestID, p.RequestID, len(body))
	out.Write(body)
	return out.Bytes()
}
