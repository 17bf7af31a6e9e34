package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

func TestAPIErrorDecoding(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		p := api.NewProblem(api.CodeValidationFailed, "invalid fields")
		p.RequestID = "req_body"
		p.Errors = []api.FieldError{{Field: "name", Message: "must not be empty"}, {Field: "scopes", Message: "unknown scope \"x\""}}
		w.Header().Set("Content-Type", api.ProblemContentType+"; charset=utf-8")
		w.Header().Set(api.HeaderRequestID, "req_header")
		w.WriteHeader(422)
		_ = json.NewEncoder(w).Encode(p)
	})
	_, err := b.c.CreateKey(context.Background(), api.CreateKeyRequest{})
	ae, ok := err.(*APIError)
	if !ok {
		t.Fatalf("err = %T %v, want *APIError unwrapped", err, err)
	}
	if ae.Status != 422 || ae.Code != api.CodeValidationFailed || ae.Title != "Validation failed" ||
		ae.Detail != "invalid fields" || ae.RequestID != "req_header" || len(ae.Errors) != 2 || ae.Errors[1].Field != "scopes" {
		t.Errorf("APIError = %+v", ae)
	}
	want := `validation_failed: invalid fields [name: must not be empty; scopes: unknown scope "x"] (request req_header)`
	if ae.Error() != want {
		t.Errorf("Error() = %q\nwant      %q", ae.Error(), want)
	}
}

func TestAPIErrorRequestIDFallbackAndMessage(t *testing.T) {
	b := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(404)
		fmt.Fprint(w, `{"type":"/docs/errors#not_found","title":"Not found","status":404,"code":"not_found","detail":"key key_9 not found","request_id":"req_9"}`)
	})
	_, err := b.c.GetKey(context.Background(), "key_9")
	if got, want := err.Error(), "not_found: key key_9 not found (request req_9)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !IsCode(err, api.CodeNotFound) || IsCode(err, api.CodeConflict) {
		t.Error("IsCode wrong")
	}
	if !IsCode(fmt.Errorf("outer: %w", err), api.CodeNotFound) {
		t.Error("IsCode does not see through wrapping")
	}
	if IsCode(errors.New("not_found"), api.CodeNotFound) || IsCode(nil, api.CodeNotFound) {
		t.Error("IsCode true for a non-APIError")
	}
}

func TestPlainTextAndHTMLErrors(t *testing.T) {
	for _, tc := range []struct {
		status      int
		ctype, body string
		code        api.Code
		detail      string
	}{
		{502, "text/plain; charset=utf-8", "Bad Gateway\n  upstream   down\n", api.CodeUnavailable, "Bad Gateway upstream down"},
		{504, "", "timeout", api.CodeUnavailable, "timeout"},
		{500, "text/html", "<html><body>oops</body></html>", api.CodeInternal, ""},
		{401, "application/json", `{"message":"nope"}`, api.CodeUnauthenticated, ""},
		{418, "text/plain", "teapot", api.CodeInternal, "teapot"},
	} {
		b := setup(t, func(w http.ResponseWriter, r *http.Request) {
			if tc.ctype != "" {
				w.Header().Set("Content-Type", tc.ctype)
			} else {
				w.Header()["Content-Type"] = nil // no sniffing
			}
			w.WriteHeader(tc.status)
			fmt.Fprint(w, tc.body)
		}, WithRetry(0, 0))
		_, err := b.c.Me(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Fatalf("%d: err = %v", tc.status, err)
		}
		if ae.Status != tc.status || ae.Code != tc.code || ae.Detail != tc.detail || ae.Title != http.StatusText(tc.status) {
			t.Errorf("%d: APIError = %+v", tc.status, ae)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":      0,
		"7":     7 * time.Second,
		" 120 ": 2 * time.Minute,
		"0":     0,
		"-3":    0,
		"soon":  0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
		"99999999999999999":                               24 * 365 * time.Hour,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
