package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/genericcorp/baton/internal/server"
	"github.com/genericcorp/baton/internal/version"
	"github.com/genericcorp/baton/pkg/config"
)

// Server is a prepared server process: store open and migrated, secret
// loaded, listener bound. Call Serve to run it.
type Server struct {
	Config   config.Server
	Store    Store
	StoreDSN string // a description of the store, for logs
	Secret   []byte
	API      *server.Server
	Listener net.Listener
	Log      *slog.Logger
}

// NewLogger returns the server's logger: JSON or text on w.
func NewLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// Prepare opens and migrates the store, loads the secret, bootstraps
// BATON_ADMIN_KEY if set, builds the API and binds the listen address.
func Prepare(ctx context.Context, cfg config.Server, log *slog.Logger) (*Server, error) {
	st, desc, err := OpenMigrated(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		st.Close()
		return nil, err
	}
	secret, err := LoadSecret(cfg.Secret, cfg.DataDir)
	if err != nil {
		return fail(err)
	}
	if cfg.AdminKey != "" {
		if _, err := EnsureOperatorKey(ctx, st, secret, cfg.AdminKey, "bootstrap", time.Now()); err != nil {
			return fail(fmt.Errorf("BATON_ADMIN_KEY: %w", err))
		}
	}
	api, err := server.New(server.Config{Store: st, Secret: secret, Tiers: cfg.Tiers, DefaultTier: cfg.DefaultTier,
		Logger: log, Version: version.Get().Version})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fail(fmt.Errorf("listen on %s: %w", cfg.Listen, err))
	}
	return &Server{Config: cfg, Store: st, StoreDSN: desc, Secret: secret, API: api, Listener: ln, Log: log}, nil
}

// URL is the base URL clients reach the server at.
func (s *Server) URL() string { return "http://" + s.Listener.Addr().String() }

// Serve serves until ctx is done, shuts down gracefully and closes the store.
func (s *Server) Serve(ctx context.Context) error {
	defer s.Store.Close()
	s.Log.Info("baton server listening", "url", s.URL(), "store", s.StoreDSN, "version", version.Get().Version)
	timeout := s.Config.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	err := server.Serve(ctx, s.Listener, s.API, s.Log, timeout)
	s.Log.Info("baton server stopped")
	return err
}
