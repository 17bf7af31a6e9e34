package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

const okResponse = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 11\r\nX-Request-Id: req_1\r\n\r\n{\"a\":\"one\"}"

func TestReadResponsePipelined(t *testing.T) {
	stream := okResponse + "HTTP/1.1 200 OK\r\nContent-Length:  3\r\nDate: x\r\n\r\n[1]"
	br := bufio.NewReader(strings.NewReader(stream))
	buf := make([]byte, 0, 4) // too small for the first: grown
	body, err := readResponse(br, buf)
	if err != nil || string(body) != `{"a":"one"}` {
		t.Fatalf("first = %q, %v", body, err)
	}
	body, err = readResponse(br, body)
	if err != nil || string(body) != "[1]" {
		t.Fatalf("second = %q, %v", body, err)
	}
	if _, err := readResponse(br, body); !errors.Is(err, io.EOF) {
		t.Fatalf("after the stream: %v, want EOF", err)
	}
}

func TestReadResponseErrors(t *testing.T) {
	for name, c := range map[string]struct {
		stream, want string
		notOK        bool
	}{
		"not 200":           {"HTTP/1.1 401 Unauthorized\r\nContent-Length: 7\r\n\r\nno key!", "status 401: no key!", true},
		"not 200 no length": {"HTTP/1.1 503 Service Unavailable\r\n\r\n", "status 503", true},
		"no length":         {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}", "without Content-Length", false},
		"chunked":           {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding", false},
		"closes":            {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", "closes the connection", false},
		"short body":        {"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n{}", "unexpected EOF", false},
		"bad status line":   {"HTTP/1.1 2x0 OK\r\n\r\n", "malformed status line", false},
		"bad length":        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length", false},
	} {
		_, err := readResponse(bufio.NewReader(strings.NewReader(c.stream)), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, errNotOK) != c.notOK {
			t.Errorf("%s: %v, want an error with %q (errNotOK: %v)", name, err, c.want, c.notOK)
		}
	}
}

// repeat reads s over and over.
type repeat struct {
	s string
	i int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := copy(p, r.s[r.i:])
	r.i = (r.i + n) % len(r.s)
	return n, nil
}

// The driver's hot loop allocates nothing: a new id and a response read
// into the buffer it already has.
func TestRawLoopAllocatesNothing(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer k"}, api.HeaderRequestID: {"req_" + strings.Repeat("a", 26)}}
	req, err := newRawRequest("127.0.0.1:1", "/v1/me", h)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(&repeat{s: okResponse})
	body := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(1000, func() {
		req.next()
		if body, err = readResponse(br, body); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func TestRawRequest(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer k"}, "Baton-Workspace": {"ws_1"}, api.HeaderRequestID: {"req_" + strings.Repeat("7", 26)}}
	req, err := newRawRequest("127.0.0.1:8080", "/v1/me", h)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 100 {
		req.next()
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(req.buf))))
		if err != nil {
			t.Fatal(err)
		}
		id := r.Header.Get(api.HeaderRequestID)
		if r.Host != "127.0.0.1:8080" || r.URL.Path != "/v1/me" || r.Header.Get("Authorization") != "Bearer k" ||
			r.Header.Get("Baton-Workspace") != "ws_1" || len(id) != 30 || !strings.HasPrefix(id, "req_") || seen[id] {
			t.Fatalf("request %q: host %s, header %v", req.buf, r.Host, r.Header)
		}
		seen[id] = true
	}
}

// The raw driver against a real server (SQLite): the headers it captured
// from pkg/client authenticate, and its answers decode as api.Me.
func TestRawDriverAgainstBaton(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a baton server")
	}
	ctx := context.Background()
	b, err := startBaton(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	kc, ws, key, err := b.workspace(ctx, "raw", benchTier)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := kc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(b.url)
	var h http.Header
	for _, cred := range []struct {
		secret  string
		session bool
	}{{key, false}, {tok.Token, true}} {
		if h, err = clientHeaders(ctx, cred.secret, ws, "/v1/me"); err != nil {
			t.Fatal(err)
		}
		if h.Get(api.HeaderWorkspace) != ws || h.Get("Authorization") != "Bearer "+cred.secret {
			t.Fatalf("captured header %v", h)
		}
		checked := 0
		meOK := meCheck(ws, cred.session)
		res, err := runRaw(ctx, u.Host, "/v1/me", h, 2, 200*time.Millisecond, func(body []byte) error {
			checked++
			return meOK(body)
		})
		if err != nil {
			t.Fatal(err)
		}
		if checked != 2 || len(res.lats) == 0 {
			t.Fatalf("%d answers checked, %d timed", checked, len(res.lats))
		}
	}
	if meCheck(ws, true)([]byte(`{"workspace":{"id":"`+ws+`"},"key":{"session":false}}`)) == nil ||
		meCheck(ws, false)([]byte(`{"workspace":{"id":"ws_other"}}`)) == nil {
		t.Fatal("meCheck took a wrong answer")
	}
	// a wrong key is an error that stops the run
	h.Set("Authorization", "Bearer nope")
	if _, err := runRaw(ctx, u.Host, "/v1/me", h, 1, time.Second, func([]byte) error { return nil }); !errors.Is(err, errNotOK) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := runRaw(ctx, "10.1.2.3:80", "/v1/me", h, 1, time.Second, nil); err == nil {
		t.Fatal("a non-loopback address was driven")
	}
}
