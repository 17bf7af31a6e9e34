package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// fakeAPI is an in-memory server: a queue that claims long-poll on, and a
// record of every call. Hooks change the answers.
type fakeAPI struct {
	mu        sync.Mutex
	queue     []api.Task
	changed   chan struct{} // closed and replaced when the queue grows
	claims    []api.ClaimRequest
	hbs       []hbCall
	logCalls  [][]string
	logReqs   []api.LogsRequest // every logs request (logCalls: their lines)
	completes []finishCall
	fails     []finishCall

	claimErr    func(n int) error // answer of the n-th claim (1-based), nil to serve
	onHeartbeat func(hbCall) (api.HeartbeatResponse, error)
	onLogs      func(ctx context.Context, lines []string) error
	onFinish    func(finishCall) error
	instant     bool // answer an empty claim at once instead of waiting
}

type hbCall struct {
	WS, ID string
	Req    api.HeartbeatRequest
	At     time.Time
}

type finishCall struct {
	WS, ID     string
	Complete   api.CompleteRequest
	Fail       api.FailRequest
	IsComplete bool
}

func newFake() *fakeAPI { return &fakeAPI{changed: make(chan struct{})} }

var _ API = (*fakeAPI)(nil)

// push queues tasks (attempt 1, workspace ws_1 unless set).
func (f *fakeAPI) push(ts ...api.Task) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range ts {
		t.Attempt = max(t.Attempt, 1)
		if t.WorkspaceID == "" {
			t.WorkspaceID = "ws_1"
		}
		if t.Queue == "" {
			t.Queue = "default"
		}
		f.queue = append(f.queue, t)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) ClaimTasks(ctx context.Context, req api.ClaimRequest) (api.ClaimResponse, error) {
	f.mu.Lock()
	f.claims = append(f.claims, req)
	n, hook := len(f.claims), f.claimErr
	f.mu.Unlock()
	if hook != nil {
		if err := hook(n); err != nil {
			return api.ClaimResponse{}, err
		}
	}
	for {
		f.mu.Lock()
		if len(f.queue) > 0 {
			k := min(len(f.queue), max(req.MaxTasks, 1))
			ts := append([]api.Task(nil), f.queue[:k]...)
			f.queue = f.queue[k:]
			f.mu.Unlock()
			return api.ClaimResponse{Tasks: ts, HeartbeatIntervalSeconds: 5}, nil
		}
		ch, instant := f.changed, f.instant
		f.mu.Unlock()
		if instant {
			return api.ClaimResponse{Tasks: []api.Task{}}, nil
		}
		select {
		case <-ctx.Done():
			return api.ClaimResponse{}, ctx.Err()
		case <-ch:
		}
	}
}

func (f *fakeAPI) Heartbeat(ctx context.Context, ws, id string, req api.HeartbeatRequest) (api.HeartbeatResponse, error) {
	c := hbCall{WS: ws, ID: id, Req: req, At: time.Now()}
	if req.Usage != nil {
		u := *req.Usage
		c.Req.Usage = &u
	}
	f.mu.Lock()
	f.hbs = append(f.hbs, c)
	hook := f.onHeartbeat
	f.mu.Unlock()
	if hook != nil {
		return hook(c)
	}
	lease := time.Now().Add(30 * time.Second)
	return api.HeartbeatResponse{LeaseExpiresAt: &lease}, nil
}

func (f *fakeAPI) AppendLogs(ctx context.Context, ws, id string, req api.LogsRequest) error {
	f.mu.Lock()
	hook := f.onLogs
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ctx, req.Lines); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.logCalls = append(f.logCalls, append([]string(nil), req.Lines...))
	req.Lines = slicesClone(req.Lines)
	f.logReqs = append(f.logReqs, req)
	f.mu.Unlock()
	return nil
}

func (f *fakeAPI) finish(c finishCall) (api.Task, error) {
	f.mu.Lock()
	hook := f.onFinish
	if c.IsComplete {
		f.completes = append(f.completes, c)
	} else {
		f.fails = append(f.fails, c)
	}
	f.mu.Unlock()
	if hook != nil {
		if err := hook(c); err != nil {
			return api.Task{}, err
		}
	}
	return api.Task{ID: c.ID}, nil
}

func (f *fakeAPI) CompleteTask(ctx context.Context, ws, id string, req api.CompleteRequest) (api.Task, error) {
	return f.finish(finishCall{WS: ws, ID: id, Complete: req, IsComplete: true})
}

func (f *fakeAPI) FailTask(ctx context.Context, ws, id string, req api.FailRequest) (api.Task, error) {
	return f.finish(finishCall{WS: ws, ID: id, Fail: req})
}

func (f *fakeAPI) snapshot() (claims []api.ClaimRequest, hbs []hbCall, logs [][]string, completes, fails []finishCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slicesClone(f.claims), slicesClone(f.hbs), slicesClone(f.logCalls), slicesClone(f.completes), slicesClone(f.fails)
}

func (f *fakeAPI) finished() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.completes) + len(f.fails)
}

func (f *fakeAPI) allLogs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.logCalls {
		out = append(out, c...)
	}
	return out
}

func (f *fakeAPI) logRequests() []api.LogsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slicesClone(f.logReqs)
}

func slicesClone[T any](s []T) []T { return append([]T(nil), s...) }

var conflict = &client.APIError{Status: 409, Code: api.CodeConflict, Detail: "stale attempt"}

// harness runs a worker against a fake in the background.
type harness struct {
	t      *testing.T
	fake   *fakeAPI
	logBuf *testutil.SyncBuffer
	dir    string
	cancel context.CancelFunc
	errc   chan error
}

// baseConfig is a Config with short intervals for tests.
func baseConfig(f *fakeAPI, logBuf *testutil.SyncBuffer, script string) Config {
	return Config{API: f, Command: []string{"sh", "-c", script}, HeartbeatInterval: 20 * time.Millisecond,
		KillGrace: 2 * time.Second, DrainTimeout: 5 * time.Second, WorkerID: "w-test",
		Log:      slog.New(slog.NewTextHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		logFlush: 20 * time.Millisecond, settleWindow: 2 * time.Second}
}

func start(t *testing.T, f *fakeAPI, script string, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, fake: f, logBuf: &testutil.SyncBuffer{}, dir: t.TempDir(), errc: make(chan error, 1)}
	cfg := baseConfig(f, h.logBuf, script)
	cfg.Env = append(os.Environ(), "DIR="+h.dir)
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.errc <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.errc:
		case <-time.After(30 * time.Second):
			t.Error("Run did not return")
		}
	})
	return h
}

// stop cancels the worker and returns Run's result.
func (h *harness) stop() error {
	h.t.Helper()
	h.cancel()
	select {
	case err := <-h.errc:
		h.errc <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		h.t.Fatal("Run did not return after cancel")
		return nil
	}
}

func (h *harness) file(name string) string { return filepath.Join(h.dir, name) }

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// readPid waits for a pid file and returns the pid in it.
func (h *harness) readPid(name string) int {
	h.t.Helper()
	var pid int
	testutil.Eventually(h.t, 10*time.Second, "pid file "+name, func() bool {
		b, err := os.ReadFile(h.file(name))
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

// gone reports whether pid no longer runs (no such process, or a zombie
// waiting for a parent that does not reap).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
