package client

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/api"
)

const (
	testJWT    = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZXlfMSJ9.c2lnbmF0dXJlLXZhbHVl"
	testSecret = "bk_ZyXwVuTs9876543210ZyXwVuTs9876543210ZyXwV9z8Y7x"
	testAdmin  = "bak_QwErTy0123456789QwErTy0123456789QwErTy01a2B3c"
)

func TestDebugTraceRedacts(t *testing.T) {
	var trace bytes.Buffer
	b := setup(t, sequence(
		func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 201, api.Key{ID: "key_2", Prefix: "bk_ZyXwVuTs", Secret: testSecret})
		},
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Set-Cookie", "session="+testJWT)
			writeJSON(w, 200, map[string]any{"token": testJWT, "expires_at": "2025-01-01T00:00:00Z",
				"note": "old key " + testAdmin + " and " + testSecret})
		},
		func(w http.ResponseWriter, r *http.Request) { writeProblem(w, api.CodeNotFound, "key key_3 not found") },
	), WithDebug(&trace), WithRetry(0, 0))
	ctx := context.Background()
	if _, err := b.c.CreateKey(ctx, api.CreateKeyRequest{Name: "deploy", Scopes: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.c.Token(ctx, WithHeader("X-Api-Token", "plain-secret-value")); err != nil {
		t.Fatal(err)
	}
	_, _ = b.c.GetKey(ctx, "key_3", WithHeader("Authorization", "Bearer "+testJWT))

	out := trace.String()
	for _, secret := range []string{testKey, testSecret, testJWT, testAdmin, "plain-secret-value",
		testKey[3:20], testSecret[3:20], "c2lnbmF0dXJlLXZhbHVl"} {
		if strings.Contains(out, secret) {
			t.Errorf("trace leaks %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{
		"> POST " + b.srv.URL + "/v1/keys\n", "< HTTP/1.1 201 Created (", `"name":"deploy"`,
		`"prefix":"bk_ZyXwVuTs"`, `"secret":"[redacted]"`, "> Authorization: Bearer [redacted]\n",
		"> POST " + b.srv.URL + "/v1/auth/token\n", "< HTTP/1.1 200 OK", `"token":"[redacted]"`,
		"bak_[redacted]", "< Set-Cookie: [redacted]\n", "> User-Agent: baton/dev\n",
		"> GET " + b.srv.URL + "/v1/keys/key_3\n", "< HTTP/1.1 404 Not Found", "key key_3 not found",
		"< X-Request-Id: req_header\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
}

func TestDebugTraceRetriesAndErrors(t *testing.T) {
	var trace bytes.Buffer
	b := setup(t, sequence(unavailable, okKey), WithDebug(&trace))
	if _, err := b.c.GetKey(context.Background(), "key_1"); err != nil {
		t.Fatal(err)
	}
	if out := trace.String(); !strings.Contains(out, "* retrying GET /v1/keys/key_1 in 250ms (retry 1 of 4): unavailable: draining") {
		t.Errorf("trace lacks the retry:\n%s", out)
	}

	trace.Reset()
	c, _ := New(closedAddr(t), WithDebug(&trace), WithRetry(0, 0), WithAPIKey(testKey))
	if _, err := c.Me(context.Background()); err == nil {
		t.Fatal("no error")
	}
	if out := trace.String(); !strings.Contains(out, "> GET ") || !strings.Contains(out, "! error after") || strings.Contains(out, testKey) {
		t.Errorf("trace:\n%s", out)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`{"secret": "abc", "name":"x"}`:                `{"secret": "[redacted]", "name":"x"}`,
		`{"client_secret":"a\"b","Token":"t"}`:         `{"client_secret":"[redacted]","Token":"[redacted]"}`,
		`{"session_token" : "t", "tokens": 12}`:        `{"session_token" : "[redacted]", "tokens": 12}`,
		`{"note":"the secret is out","b":"c"}`:         `{"note":"the secret is out","b":"c"}`,
		"key " + testKey + ".":                         "key bk_[redacted].",
		"prefix bk_AbCdEfGh stays":                     "prefix bk_AbCdEfGh stays",
		"Bearer " + testJWT:                            "Bearer [redacted]",
		"cursor eyJvZmZzZXQiOjIwfQ stays":              "cursor eyJvZmZzZXQiOjIwfQ stays",
		"http://h/v1/keys?cursor=abc&key=" + testAdmin: "http://h/v1/keys?cursor=abc&key=bak_[redacted]",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTraceBodyCut(t *testing.T) {
	var b strings.Builder
	writeBody(&b, []byte(strings.Repeat("é", maxTraceBody)))
	if s := b.String(); len(s) > maxTraceBody+100 || !strings.Contains(s, "bytes in all]") {
		t.Errorf("cut body: %d bytes, tail %q", len(s), s[len(s)-40:])
	}
	b.Reset()
	writeBody(&b, []byte{0xff, 0xfe})
	if b.String() != "[2 bytes of binary data]\n" {
		t.Errorf("binary body: %q", b.String())
	}
}
