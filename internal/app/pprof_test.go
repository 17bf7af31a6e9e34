package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestListenPprofLoopbackAccepted(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0", "127.0.0.2:0"} {
		ln, err := ListenPprof(addr, false)
		if err != nil {
			if strings.Contains(addr, "::1") || addr == "127.0.0.2:0" {
				// the machine may lack IPv6 or 127.0.0.2; the check must still pass
				if errors.Is(err, ErrPprofRemote) {
					t.Fatalf("ListenPprof(%q) refused as remote: %v", addr, err)
				}
				continue
			}
			t.Fatalf("ListenPprof(%q): %v", addr, err)
		}
		ln.Close()
	}
}

func TestListenPprofRemoteRefused(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:6060", "example.com:6060"} {
		_, err := ListenPprof(addr, false)
		if !errors.Is(err, ErrPprofRemote) {
			t.Errorf("ListenPprof(%q, false) = %v, want ErrPprofRemote", addr, err)
		}
	}
	if _, err := ListenPprof("nonsense", false); err == nil || errors.Is(err, ErrPprofRemote) {
		t.Errorf("ListenPprof(nonsense) = %v, want an address error", err)
	}
	ln, err := ListenPprof("0.0.0.0:0", true)
	if err != nil {
		t.Fatalf("ListenPprof(0.0.0.0:0, allowRemote) = %v", err)
	}
	ln.Close()
}

func TestServePprofAnswersRoutes(t *testing.T) {
	ln, err := ListenPprof("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); ServePprof(ctx, ln, slog.New(slog.DiscardHandler)) }()
	base := "http://" + ln.Addr().String()
	for path, want := range map[string]string{
		"/debug/pprof/":                   "goroutine",
		"/debug/pprof/cmdline":            "",
		"/debug/pprof/goroutine?debug=1":  "goroutine profile",
		"/debug/pprof/heap?debug=1":       "heap profile",
		"/debug/pprof/symbol":             "num_symbols",
		"/debug/pprof/profile?seconds=1":  "",
		"/debug/pprof/trace?seconds=0.05": "",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
		if !strings.Contains(string(body), want) || len(body) == 0 && path != "/debug/pprof/cmdline" {
			t.Errorf("GET %s body (%d bytes) lacks %q", path, len(body), want)
		}
	}
	resp, err := http.Get(base + "/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/me on the pprof listener = %d, want 404 (only pprof is served)", resp.StatusCode)
	}
	cancel()
	<-done
	if _, err := http.Get(base + "/debug/pprof/"); err == nil {
		t.Error("pprof listener still answers after its context ended")
	}
}

// Prepare refuses a remote pprof address without the force flag, and a
// prepared server with --pprof-listen serves profiles beside the API
// until Serve returns.
func TestPreparePprof(t *testing.T) {
	cfg := testConfig(t)
	cfg.PprofListen = "0.0.0.0:0"
	if _, err := Prepare(t.Context(), cfg, slog.New(slog.DiscardHandler)); !errors.Is(err, ErrPprofRemote) {
		t.Fatalf("Prepare with a remote pprof address = %v, want ErrPprofRemote", err)
	}
	cfg.PprofListen = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Prepare(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	url := "http://" + s.Pprof.Addr().String() + "/debug/pprof/goroutine?debug=1"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("GET %s = %d %q", url, resp.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("pprof still served after Serve returned")
	}
}

// A prepared server with --metrics-listen serves /metrics there, with the
// token, and answers the API's /metrics 404.
func TestPrepareMetricsListen(t *testing.T) {
	cfg := testConfig(t)
	cfg.MetricsListen, cfg.MetricsToken = "127.0.0.1:0", "scrape-token-0123456789"
	ctx, cancel := context.WithCancel(t.Context())
	s, err := Prepare(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	get := func(url, cred string) (int, string) {
		req, _ := http.NewRequest("GET", url, nil)
		if cred != "" {
			req.Header.Set("Authorization", "Bearer "+cred)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	metrics := "http://" + s.MetricsListener.Addr().String() + "/metrics"
	if code, body := get(metrics, cfg.MetricsToken); code != 200 || !strings.Contains(body, "baton_build_info") {
		t.Errorf("GET %s = %d %.80q", metrics, code, body)
	}
	if code, _ := get(metrics, ""); code != 401 {
		t.Errorf("GET %s without the token = %d, want 401", metrics, code)
	}
	if code, _ := get(s.URL()+"/metrics", cfg.MetricsToken); code != 404 {
		t.Errorf("API's /metrics = %d, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
}
