package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// The raw driver: closed-loop HTTP/1.1 keep-alive GETs on N TCP
// connections, the way wrk and oha load a server. pkg/client (net/http's
// transport, a context and a timer per request, JSON decoding) costs
// about twice the server's CPU per GET /v1/me, and in this process on 2
// cores that CPU competes with the server's; the raw driver writes one
// pre-built request and reads the answer into reused buffers, so what it
// measures is mostly the server.

// clientHeaders returns the request header pkg/client sends on GET path
// with clientOptions(key, workspace), read off the wire by a listener of
// its own (Host excluded: http.ReadRequest moves it to the request), so
// the raw driver sends the same headers and the server does the same work
// (Baton-Workspace, a fresh X-Request-Id for the metering's dedup, …).
func clientHeaders(ctx context.Context, key, workspace, path string) (http.Header, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	type captured struct {
		req *http.Request
		err error
	}
	got := make(chan captured, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- captured{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err == nil {
			_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
		}
		got <- captured{req, err}
	}()
	c, err := client.New("http://"+ln.Addr().String(), clientOptions(key, workspace)...)
	if err != nil {
		return nil, err
	}
	if err := c.Do(ctx, http.MethodGet, path, nil, nil, nil); err != nil {
		return nil, fmt.Errorf("capture pkg/client's request: %w", err)
	}
	r := <-got
	if r.err != nil {
		return nil, fmt.Errorf("capture pkg/client's request: %w", r.err)
	}
	if r.req.Method != http.MethodGet || r.req.URL.RequestURI() != path || r.req.ContentLength != 0 {
		return nil, fmt.Errorf("capture pkg/client's request: got %s %s with %d body bytes", r.req.Method, r.req.URL.RequestURI(), r.req.ContentLength)
	}
	return r.req.Header, nil
}

// rawRequest is one connection's pre-built request; id is the varying
// part of its X-Request-Id, inside buf, advanced before every request.
type rawRequest struct {
	buf []byte
	id  []byte
}

// base32Alphabet is what the varying part of a request id is made of
// (pkg/client's ids are lower-case base32 too).
const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// newRawRequest builds GET path to host with header h (as clientHeaders
// returns it), its X-Request-Id replaced by one of the same length: the
// prefix up to the first '_' kept, the rest random (per connection) and
// advanced per request, so every request has an id of its own.
func newRawRequest(host, path string, h http.Header) (*rawRequest, error) {
	id := h.Get(api.HeaderRequestID)
	_, tail, ok := strings.Cut(id, "_")
	if !ok {
		tail = id
	}
	if len(tail) < 16 {
		return nil, fmt.Errorf("raw request: pkg/client's %s %q is too short to vary", api.HeaderRequestID, id)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	at := -1
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "%s: ", k)
			if k == api.HeaderRequestID {
				at = b.Len() + len(id) - len(tail)
			}
			fmt.Fprintf(&b, "%s\r\n", v)
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("raw request: pkg/client sends no %s", api.HeaderRequestID)
	}
	b.WriteString("\r\n")
	r := &rawRequest{buf: b.Bytes()}
	r.id = r.buf[at : at+len(tail)]
	rand.Read(r.id)
	for i, c := range r.id {
		r.id[i] = base32Alphabet[c%32]
	}
	return r, nil
}

// next advances the request id by one, counting in base32 from its last
// character (amortized one byte written, no allocation).
func (r *rawRequest) next() {
	for i := len(r.id) - 1; i >= 0; i-- {
		j := strings.IndexByte(base32Alphabet, r.id[i]) + 1
		if j < len(base32Alphabet) {
			r.id[i] = base32Alphabet[j]
			return
		}
		r.id[i] = base32Alphabet[0]
	}
}

var (
	hContentLength    = []byte("Content-Length")
	hTransferEncoding = []byte("Transfer-Encoding")
	hConnection       = []byte("Connection")
	vClose            = []byte("close")
	httpPrefix        = []byte("HTTP/1.")
)

// errNotOK is wrapped by readResponse for an answer that is not 200.
var errNotOK = errors.New("response is not 200 OK")

// readResponse reads one HTTP/1.1 response off br, its body into buf
// (grown when too small) and returns the body. It fails for a status other
// than 200 (errNotOK, with the start of the body), for a body without a
// Content-Length (chunked is not read: the routes driven answer with a
// length, and a change would be seen here first), and for a response that
// closes the connection. It allocates nothing on the way of a 200 whose
// body fits in buf.
func readResponse(br *bufio.Reader, buf []byte) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return buf[:0], fmt.Errorf("read status line: %w", err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, httpPrefix) || line[8] != ' ' {
		return buf[:0], fmt.Errorf("malformed status line %q", line)
	}
	status, ok := digits(line[9:12])
	if !ok {
		return buf[:0], fmt.Errorf("malformed status line %q", line)
	}
	n := -1
	closes := false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return buf[:0], fmt.Errorf("read headers: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			return buf[:0], fmt.Errorf("malformed header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, hContentLength):
			v, ok := digits(value)
			if !ok || n >= 0 {
				return buf[:0], fmt.Errorf("bad Content-Length %q", value)
			}
			n = v
		case bytes.EqualFold(name, hTransferEncoding):
			return buf[:0], fmt.Errorf("Transfer-Encoding %q: the raw driver reads bodies of a Content-Length only", value)
		case bytes.EqualFold(name, hConnection) && bytes.EqualFold(value, vClose):
			closes = true
		}
	}
	if n < 0 {
		if status != http.StatusOK {
			return buf[:0], fmt.Errorf("%w: status %d (no Content-Length)", errNotOK, status)
		}
		return buf[:0], errors.New("response without Content-Length")
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		return buf, fmt.Errorf("read body of %d bytes: %w", n, err)
	}
	if status != http.StatusOK {
		return buf, fmt.Errorf("%w: status %d: %s", errNotOK, status, buf[:min(len(buf), 300)])
	}
	if closes {
		return buf, errors.New("the server closes the connection (Connection: close)")
	}
	return buf, nil
}

// digits parses a non-empty run of ASCII digits (at most 9).
func digits(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// rawResult is one run of the raw driver.
type rawResult struct {
	lats    []time.Duration
	elapsed time.Duration
}

// rawConn is one keep-alive connection of the raw driver.
type rawConn struct {
	c    net.Conn
	br   *bufio.Reader
	req  *rawRequest
	body []byte
}

func (rc *rawConn) do() ([]byte, error) {
	rc.req.next()
	if _, err := rc.c.Write(rc.req.buf); err != nil {
		return nil, err
	}
	var err error
	rc.body, err = readResponse(rc.br, rc.body)
	return rc.body, err
}

// runRaw drives GET path with header h (clientHeaders) on conns keep-alive
// connections to addr (loopback only) in a closed loop for dur. Each
// connection's first answer, before the clock starts, goes to check (which
// decodes it: the driver proves it gets real answers); every later one must
// be a 200 of that length. The first error stops the run.
func runRaw(ctx context.Context, addr, path string, h http.Header, conns int, dur time.Duration, check func([]byte) error) (rawResult, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return rawResult{}, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return rawResult{}, fmt.Errorf("raw driver: %s is not a loopback address", addr)
	}
	cs := make([]*rawConn, 0, conns)
	defer func() {
		for _, rc := range cs {
			rc.c.Close()
		}
	}()
	var mu sync.Mutex // cs, closed by the context's end as well
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, rc := range cs {
			rc.c.Close()
		}
	})
	defer stop()
	d := net.Dialer{Timeout: 5 * time.Second}
	sizes := make([]int, conns)
	for i := range conns {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return rawResult{}, fmt.Errorf("raw driver: %w", err)
		}
		req, err := newRawRequest(addr, path, h)
		if err != nil {
			c.Close()
			return rawResult{}, err
		}
		rc := &rawConn{c: c, br: bufio.NewReaderSize(c, 4096), req: req, body: make([]byte, 0, 4096)}
		mu.Lock()
		cs = append(cs, rc)
		mu.Unlock()
		c.SetDeadline(time.Now().Add(dur + 30*time.Second)) // a stuck server cannot hang the run
		body, err := rc.do()
		if err != nil {
			return rawResult{}, fmt.Errorf("raw driver, first request: %w", err)
		}
		if err := check(body); err != nil {
			return rawResult{}, fmt.Errorf("raw driver, first answer: %w", err)
		}
		sizes[i] = len(body)
	}
	lats := make([][]time.Duration, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(dur)
	for i, rc := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := make([]time.Duration, 0, 1<<14)
			for t := time.Now(); t.Before(end); {
				body, err := rc.do()
				if err == nil && len(body) != sizes[i] {
					err = fmt.Errorf("a %d-byte answer after a first of %d", len(body), sizes[i])
				}
				if err != nil {
					errs[i] = fmt.Errorf("raw driver: %w", err)
					return
				}
				now := time.Now()
				l = append(l, now.Sub(t))
				t = now
			}
			lats[i] = l
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return rawResult{}, err
	}
	return rawResult{lats: slices.Concat(lats...), elapsed: elapsed}, nil
}
