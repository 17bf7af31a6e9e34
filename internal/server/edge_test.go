package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// rawRequest writes raw to a new connection to addr and returns the response.
func rawRequest(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	// A write error is no failure: the server may answer and hang up
	// before reading all of an oversized request.
	_, _ = io.WriteString(conn, raw)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

// A body that does not arrive within the read timeout is 408
// request_timeout, and the answer names no address of the server.
func TestSlowBodyIs408(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	srv := httptest.NewUnstartedServer(b.srv)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	res, body := rawRequest(t, addr, fmt.Sprintf("POST /v1/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"input\":", a.key))
	if res.StatusCode != http.StatusRequestTimeout || res.Header.Get("Content-Type") != api.ProblemContentType {
		t.Fatalf("status %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	var p api.Problem
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Code != api.CodeRequestTimeout {
		t.Fatalf("problem = %s", body)
	}
	host, _, _ := net.SplitHostPort(addr)
	if strings.Contains(body, host) || strings.Contains(body, "tcp") {
		t.Fatalf("the answer leaks an address: %s", body)
	}
}

// What net/http answers by itself (headers too large, a malformed request,
// no Host) is problem+json too, through the server's own Serve.
func TestNetHTTPAnswersAreProblems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, b.srv, slog.New(slog.DiscardHandler), 5*time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := ln.Addr().String()
	for _, c := range []struct {
		name, raw string
		status    int
		code      api.Code
	}{
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8<<10) + "\r\n\r\n", 431, api.CodeHeadersTooLarge},
		{"no host", "GET /healthz HTTP/1.1\r\n\r\n", 400, api.CodeInvalidRequest},
		{"malformed header", "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, api.CodeInvalidRequest},
		{"unknown transfer coding", "POST /v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zip\r\n\r\n", 501, api.CodeInvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, body := rawRequest(t, addr, c.raw)
			var p api.Problem
			if res.StatusCode != c.status || res.Header.Get("Content-Type") != api.ProblemContentType || json.Unmarshal([]byte(body), &p) != nil {
				t.Fatalf("status %d %s: %q", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			if p.Code != c.code || p.Status != c.status || p.RequestID == "" || res.Header.Get(api.HeaderRequestID) != p.RequestID || p.Detail == "" {
				t.Fatalf("problem = %+v", p)
			}
		})
	}
	// Answers of handlers pass unchanged, text/plain ones included.
	for _, path := range []string{"/healthz", "/metrics"} {
		res, body := rawRequest(t, addr, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if res.StatusCode != 200 || res.Header.Get(api.HeaderRequestID) == "" || body == "" {
			t.Fatalf("%s: %d %v %q", path, res.StatusCode, res.Header, body)
		}
	}
}

// TestMayBeCannedPassesEveryCannedAnswer: the quick test in front of
// cannedAnswer lets through every write the regexp matches, and stops a
// handler's response.
func TestMayBeCannedPassesEveryCannedAnswer(t *testing.T) {
	for _, c := range []struct {
		write  string
		canned bool
	}{
		{"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large", true},
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header", true},
		{"HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding", true},
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: req_1\r\n\r\n{}", false},
		{"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n", false},
		{"HTTP/1.1 400 Bad\nRequest\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n", false},
		{"{\"partial\":\"body\"}", false},
		{"", false},
	} {
		b := []byte(c.write)
		matched := cannedAnswer.Match(b)
		if matched != c.canned {
			t.Fatalf("cannedAnswer.Match(%q) = %v", c.write, matched)
		}
		if matched && !mayBeCanned(b) {
			t.Errorf("mayBeCanned(%q) = false for a canned answer", c.write)
		}
		if (!strings.HasPrefix(c.write, "HTTP/1.1 ") || strings.Contains(c.write, "200 OK")) && mayBeCanned(b) {
			t.Errorf("mayBeCanned(%q) = true", c.write)
		}
	}
}
