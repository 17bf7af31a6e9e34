package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"time"
)

// ErrPprofRemote is returned by ListenPprof for an address that is not
// loopback when remote access was not allowed.
var ErrPprofRemote = errors.New("pprof listen address is not loopback: profiles expose memory contents; pass --pprof-allow-remote (BATON_PPROF_ALLOW_REMOTE=true) to allow it")

// ListenPprof binds addr for the profiling endpoints. A host that is not a
// loopback address (127.0.0.0/8, ::1 or "localhost") is refused with
// ErrPprofRemote unless allowRemote; an empty host (all interfaces) counts
// as remote.
func ListenPprof(addr string, allowRemote bool) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen address %q: %w", addr, err)
	}
	if !allowRemote && !isLoopback(host) {
		return nil, fmt.Errorf("%w (got %q)", ErrPprofRemote, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof listen on %s: %w", addr, err)
	}
	return ln, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// PprofHandler serves net/http/pprof's index, cmdline, profile, symbol and
// trace routes and the named profiles under /debug/pprof/.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// ServePprof serves PprofHandler on ln until ctx is done, then closes it.
func ServePprof(ctx context.Context, ln net.Listener, log *slog.Logger) {
	serveAux(ctx, ln, PprofHandler(), "pprof", "/debug/pprof/", log)
}

// serveAux serves h on ln (a listener beside the API's: profiles,
// metrics) until ctx is done, then closes it.
func serveAux(ctx context.Context, ln net.Listener, h http.Handler, name, path string, log *slog.Logger) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info(name+" listening", "url", "http://"+ln.Addr().String()+path)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error(name+" server stopped", "err", err)
	}
}
