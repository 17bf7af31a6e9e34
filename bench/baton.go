package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genericcorp/baton/internal/app"
	"github.com/genericcorp/baton/internal/auth"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
	"github.com/genericcorp/baton/pkg/config"
)

// benchTier has limits no benchmark reaches, so the suite measures the
// engine and not admission refusals; the mixed scenario uses its own.
const benchTier = "bench"

// benchLimits are the bench tier's limits. A limit of 0 allows nothing
// (only requests_per_minute 0 is unlimited and event_retention_days 0 keeps
// events), so every other limit is set far past what a scenario reaches;
// TestBenchTierLimitsNothing checks that a new limit is not left at 0.
var benchLimits = api.Limits{RequestsPerMinute: 0, Burst: 0,
	MaxConcurrentTasks: 1_000_000, MaxQueuedTasks: 100_000_000, MaxTaskDurationSeconds: 3600,
	MonthlyTaskExecutions: 1 << 40, MonthlyExecutionSeconds: 1 << 40, MonthlySpendMicros: 1 << 50,
	MaxLogBytesPerTask: 1 << 40, MaxOpenStreams: 1_000_000}

// benchSecret is every server's BATON_SECRET, so two servers on one
// database accept each other's keys (as replicas do).
var benchSecret = func() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}()

// errorLog counts the server's ERROR log lines and keeps the first few.
type errorLog struct {
	n     atomic.Int64
	mu    sync.Mutex
	first []string
}

func (e *errorLog) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(p, []byte("\n")) {
		if bytes.Contains(line, []byte(`"level":"ERROR"`)) {
			e.n.Add(1)
			e.mu.Lock()
			if len(e.first) < 5 {
				e.first = append(e.first, string(line))
			}
			e.mu.Unlock()
		}
	}
	return len(p), nil
}

// batonServer is a real baton server in this process on 127.0.0.1.
type batonServer struct {
	srv    *app.Server
	url    string
	admin  *client.Client
	errors *errorLog
	stop   context.CancelFunc
	done   chan error
	dir    string
}

// startBaton prepares and serves baton on store dbURL ("" for SQLite in a
// temp dir) with tier limits tiers (nil: the bench tier only).
func startBaton(ctx context.Context, dbURL string, tiers map[string]api.Tier) (*batonServer, error) {
	dir, err := os.MkdirTemp("", "baton-bench-")
	if err != nil {
		return nil, err
	}
	adminKey, err := auth.NewKey(auth.OperatorPrefix)
	if err != nil {
		return nil, err
	}
	all := config.DefaultTiers()
	all[benchTier] = api.Tier{Name: benchTier, Limits: benchLimits}
	for k, v := range tiers {
		all[k] = v
	}
	cfg := config.Server{Listen: "127.0.0.1:0", DatabaseURL: dbURL, DataDir: dir, AdminKey: adminKey, Secret: benchSecret,
		LogFormat: "json", DefaultTier: benchTier, Tiers: all, ShutdownTimeout: 10 * time.Second,
		Lease: 30 * time.Second, HeartbeatInterval: 5 * time.Second, DBMaxConns: 32}
	if dbURL == "" {
		cfg.DatabaseURL = "sqlite:" + filepath.Join(dir, "baton.db")
	}
	el := &errorLog{}
	log := slog.New(slog.NewJSONHandler(el, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := app.Prepare(ctx, cfg, log)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b := &batonServer{srv: s, url: s.URL(), errors: el, stop: stop, done: make(chan error, 1), dir: dir}
	go func() { b.done <- s.Serve(sctx) }()
	if b.admin, err = b.client(adminKey, ""); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *batonServer) close() {
	b.stop()
	<-b.done
	os.RemoveAll(b.dir)
}

// httpClient has enough idle connections for every benchmark goroutine.
func httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = 1024, 1024, 0
	return &http.Client{Transport: t, Timeout: 60 * time.Second}
}

// client is a pkg/client for key (no retries: every error counts).
func (b *batonServer) client(key, workspace string) (*client.Client, error) {
	return client.New(b.url, clientOptions(key, workspace)...)
}

// clientOptions are the options of every bench client: key, workspace
// ("" for none), no retries. The raw driver captures the headers a client
// made with them sends (clientHeaders), so both drive the same requests.
func clientOptions(key, workspace string) []client.Option {
	opts := []client.Option{client.WithAPIKey(key), client.WithHTTPClient(httpClient()), client.WithRetry(0, 0)}
	if workspace != "" {
		opts = append(opts, client.WithWorkspace(workspace))
	}
	return opts
}

// workspace creates a workspace on tier and returns a client for its key.
func (b *batonServer) workspace(ctx context.Context, name, tier string) (*client.Client, string, string, error) {
	out, err := b.admin.CreateWorkspace(ctx, api.CreateWorkspaceRequest{Name: name, Tier: tier})
	if err != nil {
		return nil, "", "", fmt.Errorf("create workspace: %w", err)
	}
	c, err := b.client(out.Key.Secret, out.Workspace.ID)
	return c, out.Workspace.ID, out.Key.Secret, err
}
