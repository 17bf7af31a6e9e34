// Package supervisor is the worker supervisor behind `baton worker run`: it
// long-polls the server for tasks, runs an agent command per task in its own
// process group (or an in-process Runner), streams the agent's stderr as task
// logs, heartbeats each attempt with its usage, stops an attempt the server
// cancels or fences off, and reports the outcome. On shutdown it stops
// claiming and drains the running tasks.
//
// The agent protocol: the task input (JSON) on stdin, then EOF; BATON_TASK_ID,
// BATON_ATTEMPT, BATON_QUEUE, BATON_WORKSPACE_ID and BATON_AGENT_TAG in the
// environment, and HOME of the attempt's own (Config.InheritHome);
// stdout is the result (JSON if it parses, else a JSON string of the trimmed
// text); stderr lines are logs, except `::baton usage tokens=N cost_usd=X`,
// which adds to the attempt's usage; exit 0 completes the task,
// Config.FatalExitCode (78) fails it for good, any other exit fails the
// attempt, which the server retries while attempts remain.
//
// Isolation (docs/security.md): on Linux the worker is not dumpable, so
// agents of its user cannot read its environment or memory, and it is a
// child subreaper that kills every process of an attempt, setsid or not;
// Config.AgentUser runs agents as another user.
package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/backoff"
	"github.com/genericcorp/baton/pkg/client"
)

// API is what the supervisor needs from the server; *client.Client has it.
type API interface {
	ClaimTasks(ctx context.Context, req api.ClaimRequest) (api.ClaimResponse, error)
	Heartbeat(ctx context.Context, workspaceID, id string, req api.HeartbeatRequest) (api.HeartbeatResponse, error)
	AppendLogs(ctx context.Context, workspaceID, id string, req api.LogsRequest) error
	CompleteTask(ctx context.Context, workspaceID, id string, req api.CompleteRequest) (api.Task, error)
	FailTask(ctx context.Context, workspaceID, id string, req api.FailRequest) (api.Task, error)
}

var _ API = (*client.Client)(nil)

// Runner runs a task in-process instead of a command. usage is the
// attempt's total. ctx ends when the server cancels the attempt or the drain
// times out; an error fails the attempt (retried), one that wraps ErrFatal
// fails the task for good.
type Runner func(ctx context.Context, t api.Task) (output json.RawMessage, usage api.UsageReport, err error)

// ErrFatal, wrapped in a Runner's error, fails the task without a retry.
var ErrFatal = errors.New("fatal")

// Defaults of Config.
const (
	DefaultWaitSeconds    = 20
	DefaultHeartbeat      = 5 * time.Second
	DefaultKillGrace      = 10 * time.Second
	DefaultDrainTimeout   = 30 * time.Second
	DefaultFatalExitCode  = 78 // EX_CONFIG
	DefaultMaxOutputBytes = 1 << 20
)

// Config configures Run. Zero values take the defaults above.
type Config struct {
	API API
	// Command is the agent command line (run once per attempt), unless
	// Runner is set.
	Command []string
	Runner  Runner
	// Env is the agent's base environment (nil: os.Environ()), without
	// BATON_API_KEY, which never reaches an agent.
	Env         []string
	Queues      []string // default ["default"]
	Concurrency int      // tasks at once, default 1
	// WorkerID names this worker in claims (default hostname-pid-random).
	WorkerID    string
	WaitSeconds int // long-poll wait of a claim
	// HeartbeatInterval overrides the server's interval (else 5s).
	HeartbeatInterval time.Duration
	KillGrace         time.Duration // SIGTERM to SIGKILL
	DrainTimeout      time.Duration // how long running tasks may finish on shutdown
	FatalExitCode     int           // exit code that fails the task at once
	MaxOutputBytes    int           // cap of an agent's stdout
	Log               *slog.Logger  // default: discard
	Stderr            io.Writer     // optional mirror of agents' stderr
	// InheritHome gives agents the worker's HOME and XDG_* directories.
	// By default each attempt gets an empty home of its own (removed
	// afterwards), so an agent does not find the worker's CLI config and
	// its key where tools look for it.
	InheritHome bool
	// AgentUser runs agents as another user (Unix, the worker running as
	// root): the strong wall between an agent and the worker's key.
	AgentUser *AgentUser

	// Test hooks and knobs (zero: defaults).
	sleep        func(ctx context.Context, d time.Duration) error
	logFlush     time.Duration // flush logs at least this often (1s)
	logBatch     int           // flush logs at this many lines (100)
	logCapacity  int           // lines buffered before dropping (10000)
	logFinalWait time.Duration // how long the last lines may take to send (10s)
	reportTries  int           // tries of a completion (5)
	settleWindow time.Duration // how long to read pipes after the agent exits (2s)
	unprotected  bool          // skip protectProcess (the control case of its test)
}

// AgentUser is the user agents run as (Config.AgentUser).
type AgentUser struct {
	Name     string
	UID, GID uint32
	Groups   []uint32
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.API == nil {
		return cfg, errors.New("worker: no API")
	}
	if cfg.Runner == nil {
		if len(cfg.Command) == 0 || cfg.Command[0] == "" {
			return cfg, errors.New("worker: no agent command")
		}
		if _, err := exec.LookPath(cfg.Command[0]); err != nil {
			return cfg, fmt.Errorf("agent command: %w", err)
		}
		if cfg.AgentUser != nil && runtime.GOOS == "windows" {
			return cfg, errors.New("worker: running agents as another user is not supported on Windows")
		}
		if cfg.Env == nil {
			cfg.Env = os.Environ()
		}
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = []string{api.DefaultQueue}
	}
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.WorkerID == "" {
		cfg.WorkerID = defaultWorkerID()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	defInt(&cfg.WaitSeconds, DefaultWaitSeconds)
	def(&cfg.KillGrace, DefaultKillGrace)
	def(&cfg.DrainTimeout, DefaultDrainTimeout)
	defInt(&cfg.FatalExitCode, DefaultFatalExitCode)
	defInt(&cfg.MaxOutputBytes, DefaultMaxOutputBytes)
	def(&cfg.logFlush, time.Second)
	defInt(&cfg.logBatch, 100)
	defInt(&cfg.logCapacity, 10000)
	def(&cfg.logFinalWait, 10*time.Second)
	defInt(&cfg.reportTries, 5)
	def(&cfg.settleWindow, 2*time.Second)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.sleep == nil {
		cfg.sleep = sleepCtx
	}
	if cfg.Stderr != nil {
		cfg.Stderr = &lockedWriter{w: cfg.Stderr}
	}
	return cfg, nil
}

func defaultWorkerID() string {
	host := hostname()
	if host == "" {
		host = "worker"
	}
	return fmt.Sprintf("%s-%d-%08x", host, os.Getpid(), rand.Uint32())
}

// hostname is the machine's name, at most 64 bytes ("" if unknown).
func hostname() string {
	host, _ := os.Hostname()
	if len(host) > 64 {
		host = host[:64]
	}
	return host
}

// worker is one Run.
type worker struct {
	cfg Config
	log *slog.Logger
	wg  sync.WaitGroup

	mu      sync.Mutex
	running map[*attempt]struct{}
	freed   chan struct{} // signalled when a slot frees up
}

// Run claims and runs tasks until ctx is done, then stops claiming, lets the
// running tasks finish for up to DrainTimeout, stops the rest (SIGTERM,
// SIGKILL after KillGrace) and fails them as retryable so they run elsewhere.
// It returns nil after the drain, or the error of a bad Config or of a claim
// the server refuses for good (unauthenticated, forbidden, invalid).
func Run(ctx context.Context, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	w := &worker{cfg: cfg, log: cfg.Log, running: map[*attempt]struct{}{}, freed: make(chan struct{}, 1)}
	if cfg.Runner == nil && !cfg.unprotected {
		if err := protectProcess(); err != nil {
			w.log.Warn("agents may read this worker's environment and memory", "err", err)
		}
	}
	w.log.Info("worker started", "worker_id", cfg.WorkerID, "queues", cfg.Queues, "concurrency", cfg.Concurrency)
	err = w.claimLoop(ctx)
	w.drain()
	if err != nil {
		return err
	}
	w.log.Info("worker stopped", "worker_id", cfg.WorkerID)
	return nil
}

// claimLoop long-polls for as many tasks as there are free slots, backing
// off with jitter on errors, until ctx is done.
func (w *worker) claimLoop(ctx context.Context) error {
	failures := 0
	for {
		free := w.waitFree(ctx)
		if ctx.Err() != nil {
			return nil
		}
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, time.Duration(w.cfg.WaitSeconds+30)*time.Second)
		resp, err := w.cfg.API.ClaimTasks(cctx, api.ClaimRequest{Queues: w.cfg.Queues, WorkerID: w.cfg.WorkerID,
			WaitSeconds: w.cfg.WaitSeconds, MaxTasks: free, Host: hostname(), Concurrency: w.cfg.Concurrency})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if permanent(err) {
				w.log.Error("claim refused; stopping", "err", err)
				return fmt.Errorf("claim tasks: %w", err)
			}
			failures++
			wait := retryWait(failures)
			var ae *client.APIError
			if errors.As(err, &ae) && ae.RetryAfter > wait {
				wait = ae.RetryAfter
			}
			w.log.Warn("claim failed; backing off", "err", err, "failures", failures, "wait", wait.Round(time.Millisecond))
			if w.cfg.sleep(ctx, wait) != nil {
				return nil
			}
			continue
		}
		failures = 0
		hb := w.cfg.HeartbeatInterval
		if hb <= 0 {
			hb = time.Duration(resp.HeartbeatIntervalMS) * time.Millisecond
		}
		if hb <= 0 {
			hb = time.Duration(resp.HeartbeatIntervalSeconds) * time.Second
		}
		if hb <= 0 {
			hb = DefaultHeartbeat
		}
		for _, t := range resp.Tasks {
			w.start(t, hb)
		}
		// A server that answers an empty poll at once must not make a hot loop.
		if len(resp.Tasks) == 0 && time.Since(start) < time.Second {
			if w.cfg.sleep(ctx, retryWait(1)) != nil {
				return nil
			}
		}
	}
}

// permanent reports whether a claim error will not clear by retrying.
func permanent(err error) bool {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Code {
	case api.CodeUnauthenticated, api.CodeForbidden, api.CodeInvalidRequest, api.CodeValidationFailed, api.CodeNotFound:
		return true
	}
	return false
}

// retryPolicy spaces the worker's retries of failed claims and calls:
// 500 ms doubling to 30 s, with equal jitter (never zero).
var retryPolicy = backoff.Policy{Base: 500 * time.Millisecond, Max: 30 * time.Second, Jitter: backoff.Equal}

// retryWait is the wait after the n-th failure in a row.
func retryWait(n int) time.Duration { return retryPolicy.Delay(n) }

// waitFree blocks until a slot is free (or ctx is done) and returns how many are.
func (w *worker) waitFree(ctx context.Context) int {
	for {
		w.mu.Lock()
		free := w.cfg.Concurrency - len(w.running)
		w.mu.Unlock()
		if free > 0 {
			return free
		}
		select {
		case <-ctx.Done():
			return 0
		case <-w.freed:
		}
	}
}

// start runs one leased task in a slot.
func (w *worker) start(t api.Task, hb time.Duration) {
	a := newAttempt(w, t, hb)
	w.mu.Lock()
	w.running[a] = struct{}{}
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		a.run()
		w.mu.Lock()
		delete(w.running, a)
		w.mu.Unlock()
		select {
		case w.freed <- struct{}{}:
		default:
		}
	}()
}

// drain waits for running tasks up to DrainTimeout, then stops the rest and
// waits for them to be reported.
func (w *worker) drain() {
	w.mu.Lock()
	n := len(w.running)
	w.mu.Unlock()
	if n == 0 {
		return
	}
	w.log.Info("draining: waiting for running tasks", "tasks", n, "timeout", w.cfg.DrainTimeout)
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	t := time.NewTimer(w.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	w.mu.Lock()
	left := make([]*attempt, 0, len(w.running))
	for a := range w.running {
		left = append(left, a)
	}
	w.mu.Unlock()
	w.log.Warn("drain timeout: stopping running tasks", "tasks", len(left))
	for _, a := range left {
		a.stop(stopShutdown, "worker shutting down")
	}
	<-done
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// lockedWriter serialises writes of concurrent attempts.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
