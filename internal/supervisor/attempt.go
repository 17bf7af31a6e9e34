package supervisor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// stopKind says why an attempt was stopped before it ended by itself.
type stopKind int

const (
	stopNone      stopKind = iota
	stopCancel             // the server cancelled it: not reported
	stopLost               // its lease is lost (409): not reported, it is fenced off
	stopShutdown           // the drain timed out: failed as retryable
	stopRefused            // the server refuses the attempt's key (suspended, forbidden, revoked): not reported
	stopSuspended          // a step call suspended the task (it waits): the server ended the attempt, not reported
)

// result is how an attempt ended.
type result struct {
	ok        bool
	output    json.RawMessage
	err       string
	retryable bool
	exit      int  // the agent's exit code, -1 when it has none
	signalled bool // the agent was told to stop before it ended
}

// attempt is one leased task being run.
type attempt struct {
	w    *worker
	t    api.Task
	hb   time.Duration
	log  *slog.Logger
	logs *logShipper
	// stderr lets step calls wait for the usage lines printed before them.
	stderr *stderrSync
	tag    string // marks the attempt's processes (BATON_AGENT_TAG)

	ctx    context.Context // done once stop is called
	cancel context.CancelFunc

	mu       sync.Mutex
	kind     stopKind
	reason   string
	usage    api.UsageReport
	lastLine string // last non-empty log line, for the failure message
}

func newAttempt(w *worker, t api.Task, hb time.Duration) *attempt {
	ctx, cancel := context.WithCancel(context.Background())
	a := &attempt{w: w, t: t, hb: hb, ctx: ctx, cancel: cancel, tag: rand.Text(),
		log: w.log.With("task", t.ID, "attempt", t.Attempt, "queue", t.Queue, "workspace", t.WorkspaceID)}
	a.logs = newLogShipper(w.cfg, t, a.log)
	return a
}

// run runs the attempt to its end and reports it.
func (a *attempt) run() {
	defer a.cancel()
	start := time.Now()
	a.log.Info("task started")
	go a.logs.loop()
	hbCtx, hbStop := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); a.heartbeats(hbCtx) }()

	var res result
	if a.w.cfg.Runner != nil {
		res = a.runInProcess()
	} else {
		res = a.runProcess()
	}
	a.logs.close() // logs go before the outcome; heartbeats keep the lease meanwhile
	hbStop()
	<-hbDone
	a.report(res, time.Since(start))
}

// stop ends the attempt early: the agent's group gets SIGTERM (SIGKILL after
// KillGrace), a Runner's context ends. The first reason wins.
func (a *attempt) stop(kind stopKind, reason string) {
	a.mu.Lock()
	if a.kind == stopNone {
		a.kind, a.reason = kind, reason
	}
	a.mu.Unlock()
	a.cancel()
}

// heartbeats extends the lease every interval until ctx ends or the server
// says the attempt is over.
func (a *attempt) heartbeats(ctx context.Context) {
	t := time.NewTicker(a.hb)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.heartbeat(ctx) {
			return
		}
	}
}

// heartbeat sends one heartbeat with the usage totals; false when the
// attempt must stop.
func (a *attempt) heartbeat(ctx context.Context) bool {
	u := a.usageTotals()
	cctx, cancel := context.WithTimeout(ctx, max(2*a.hb, 10*time.Second))
	resp, err := a.w.cfg.API.Heartbeat(cctx, a.t.WorkspaceID, a.t.ID, api.HeartbeatRequest{Attempt: a.t.Attempt, Usage: &u})
	cancel()
	switch {
	case err == nil && resp.Cancel:
		reason := resp.Reason
		if reason == "" {
			reason = api.TaskCancelled
		}
		a.log.Info("server stopped the attempt; stopping the agent", "reason", reason)
		a.stop(stopCancel, reason)
		return false
	case err == nil:
		return true
	case lost(err):
		a.log.Warn("lease lost; stopping the agent", "err", err)
		a.stop(stopLost, err.Error())
		return false
	case keyRefused(err):
		// Its outcome would be refused too: the agent's work would be
		// lost and run again. The task goes back to the queue when its
		// lease expires, and runs when the workspace may run again.
		a.log.Warn("the server refuses this attempt's key; stopping the agent", "err", err)
		a.stop(stopRefused, err.Error())
		return false
	case ctx.Err() != nil:
		return false
	default:
		a.log.Warn("heartbeat failed; retrying at the next tick", "err", err)
		return true
	}
}

// lost reports whether err says the attempt no longer holds its task.
func lost(err error) bool {
	return client.IsCode(err, api.CodeConflict) || client.IsCode(err, api.CodeNotFound)
}

// keyRefused reports whether err says the server refuses the credential for
// this task: the workspace is suspended, the key lost the worker scope, or
// it was revoked or expired. Retrying cannot help.
func keyRefused(err error) bool {
	return client.IsCode(err, api.CodeWorkspaceSuspended) || client.IsCode(err, api.CodeForbidden) ||
		client.IsCode(err, api.CodeUnauthenticated)
}

// transient reports whether a failed report is worth another try.
func transient(err error) bool {
	var ae *client.APIError
	if !errors.As(err, &ae) {
		return true
	}
	return ae.Status == 429 || ae.Status >= 500
}

// report sends the outcome: complete or fail, with the usage totals. A
// cancelled or fenced-off attempt is not reported.
func (a *attempt) report(res result, d time.Duration) {
	a.mu.Lock()
	kind, reason, usage := a.kind, a.reason, a.usage
	a.mu.Unlock()
	log := a.log.With("exit_code", res.exit, "duration", d.Round(time.Millisecond))
	switch {
	case kind == stopCancel:
		log.Info("attempt stopped by the server; not reporting it", "reason", reason)
		return
	case kind == stopSuspended:
		log.Info("attempt suspended: the task waits; not reporting it", "reason", reason)
		return
	case kind == stopLost:
		log.Warn("attempt fenced off: its lease was lost; not reporting it", "reason", reason)
		return
	case kind == stopRefused:
		log.Warn("attempt stopped: the server refuses its key; not reporting it (the task is requeued when its lease expires)", "reason", reason)
		return
	case kind == stopShutdown && res.signalled:
		res = result{err: reason, retryable: true, exit: res.exit}
	}
	srv, ws, id, n := a.w.cfg.API, a.t.WorkspaceID, a.t.ID, a.t.Attempt
	var err error
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if res.ok {
			_, err = srv.CompleteTask(ctx, ws, id, apiComplete(n, res.output, usage))
		} else {
			_, err = srv.FailTask(ctx, ws, id, apiFail(n, res.err, res.retryable, usage))
		}
		cancel()
		if err == nil || try >= a.w.cfg.reportTries || !transient(err) {
			break
		}
		log.Warn("reporting the attempt failed; retrying", "err", err, "try", try)
		_ = a.w.cfg.sleep(context.Background(), retryWait(try))
	}
	switch {
	case err == nil && res.ok:
		log.Info("task completed", "tokens", usage.Tokens, "cost_micros", usage.CostMicros)
	case err == nil:
		log.Info("attempt failed", "error", res.err, "retryable", res.retryable)
	case client.IsCode(err, api.CodeConflict):
		log.Warn("attempt fenced off; its outcome was refused", "err", err)
	default:
		log.Error("could not report the attempt; the server requeues it when its lease expires", "err", err)
	}
}

func apiComplete(attempt int, out json.RawMessage, u api.UsageReport) api.CompleteRequest {
	return api.CompleteRequest{Attempt: attempt, Output: out, Usage: &u}
}

func apiFail(attempt int, msg string, retryable bool, u api.UsageReport) api.FailRequest {
	return api.FailRequest{Attempt: attempt, Error: msg, Retryable: retryable, Usage: &u}
}

// addUsage adds one report of the agent to the attempt's totals.
func (a *attempt) addUsage(u api.UsageReport) {
	a.mu.Lock()
	a.usage.Tokens = addSat(a.usage.Tokens, min(u.Tokens, api.MaxUsageTokens), api.MaxUsageTokens)
	a.usage.CostMicros = addSat(a.usage.CostMicros, min(u.CostMicros, api.MaxUsageCostMicros), api.MaxUsageCostMicros)
	a.mu.Unlock()
}

func (a *attempt) usageTotals() api.UsageReport {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.usage
}

// addSat adds two non-negative numbers, saturating at limit (the server's
// bound of a report, api.MaxUsage*).
func addSat(x, y, limit int64) int64 {
	if x > limit-y {
		return limit
	}
	return x + y
}

// runInProcess runs the Runner. A nil error completes the task even when
// the Runner was told to stop; a panic fails the attempt.
func (a *attempt) runInProcess() (res result) {
	defer func() {
		if r := recover(); r != nil {
			res = result{err: fmt.Sprintf("runner panicked: %v", r), retryable: true, exit: -1}
		}
	}()
	out, usage, err := a.w.cfg.Runner(a.ctx, a.t)
	a.mu.Lock()
	a.usage = api.UsageReport{Tokens: min(max(usage.Tokens, 0), api.MaxUsageTokens),
		CostMicros: min(max(usage.CostMicros, 0), api.MaxUsageCostMicros)}
	a.mu.Unlock()
	if err != nil {
		return result{err: err.Error(), retryable: !errors.Is(err, ErrFatal), exit: -1, signalled: a.ctx.Err() != nil}
	}
	out = bytes.TrimSpace(out)
	switch {
	case len(out) == 0:
		out = json.RawMessage("null")
	case !json.Valid(out):
		return result{err: "runner returned invalid JSON", exit: -1}
	}
	return checkOutput(result{ok: true, output: out, exit: -1})
}

// EchoRunner is the demo agent of `baton dev`: its output is
// {"echo": <input>}.
func EchoRunner(_ context.Context, t api.Task) (json.RawMessage, api.UsageReport, error) {
	in := bytes.TrimSpace(t.Input)
	if len(in) == 0 {
		in = json.RawMessage("null")
	}
	out, err := json.Marshal(map[string]json.RawMessage{"echo": in})
	if err != nil {
		return nil, api.UsageReport{}, fmt.Errorf("%w: input is not JSON: %v", ErrFatal, err)
	}
	return out, api.UsageReport{}, nil
}
