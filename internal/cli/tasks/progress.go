package tasks

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// pollerWindow is how long a queue may go without a poller before a wait
// warns that nothing will run the task: a worker counts when GET
// /v1/workers shows it on the queue with a last_seen_at at most this old.
// The server rewrites a worker's row at its claims, at most every 15 s,
// and `baton worker run` claims at least every 20 s (its long poll) while
// it has a free slot, so a polling worker's row is under 30 s old but for
// one case: a claim skipped by the 15 s rule just before its mark, then a
// full long poll, lets the row age to 35 s.
const pollerWindow = 30 * time.Second

// pollerRecheck is how often a wait looks at the queue's pollers again.
var pollerRecheck = 10 * time.Second

// spinnerFrames are the frames of the waiting spinner.
var spinnerFrames = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

// progress is what a wait shows on stderr: the task's events as lines, a
// spinner line with the status, worker and elapsed time when stderr is a
// terminal (redrawn in place, cleared before each event line), warnings
// that no worker polls the queue, and when the next attempt is due.
// Nothing but warnings with --quiet.
type progress struct {
	w     io.Writer
	tty   bool
	quiet bool
	now   func() time.Time
	start time.Time

	mu      sync.Mutex
	task    string
	status  string
	worker  string
	frame   int
	drawn   bool
	stopped chan struct{}
	done    sync.WaitGroup
	warned  bool
}

func newProgress(f *cmdutil.Factory, id string) *progress {
	return &progress{w: f.IOStreams.ErrOut, tty: f.IOStreams.IsStderrTTY(), quiet: f.Globals.Quiet,
		now: f.Now, start: f.Now(), task: id, status: api.TaskQueued, stopped: make(chan struct{})}
}

// spin redraws the spinner line every 100ms until stop (terminal only).
func (p *progress) spin() {
	if !p.tty || p.quiet {
		return
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stopped:
				return
			case <-tick.C:
				p.mu.Lock()
				p.frame++
				p.draw()
				p.mu.Unlock()
			}
		}
	}()
}

// stop ends the spinner and clears its line.
func (p *progress) stop() {
	select {
	case <-p.stopped:
	default:
		close(p.stopped)
	}
	p.done.Wait()
	p.mu.Lock()
	p.clear()
	p.mu.Unlock()
}

// draw writes the spinner line in place (mu held).
func (p *progress) draw() {
	s := fmt.Sprintf("\r\x1b[K%c %s %s", spinnerFrames[p.frame%len(spinnerFrames)], p.task, p.status)
	if p.worker != "" {
		s += " on " + p.worker
	}
	s += " · " + p.now().Sub(p.start).Truncate(time.Second).String()
	fmt.Fprint(p.w, s)
	p.drawn = true
}

// clear removes the spinner line (mu held).
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// line prints one progress line above the spinner (not with --quiet).
func (p *progress) line(s string) error {
	if p.quiet {
		return nil
	}
	return p.print(s)
}

// warn prints a warning line, even with --quiet.
func (p *progress) warn(s string) { _ = p.print("warning: " + s) }

func (p *progress) print(s string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	_, err := fmt.Fprintln(p.w, s)
	if p.tty && !p.quiet {
		p.draw()
	}
	return err
}

// event takes in one task event: it updates the spinner's status, prints
// the event's line, and for a state change asks the task for the worker
// (running) or the time of the next attempt (queued for a retry).
func (p *progress) event(ctx context.Context, c *client.Client, ev api.TaskEvent) error {
	if ev.Status != "" {
		p.mu.Lock()
		p.status = ev.Status
		if ev.Status != api.TaskRunning {
			p.worker = ""
		}
		p.mu.Unlock()
	}
	if err := p.line(eventLine(ev)); err != nil {
		return err
	}
	if ev.Type != api.EventState || p.quiet {
		return nil
	}
	switch {
	case ev.Status == api.TaskRunning:
		t, err := c.GetTask(ctx, p.task)
		if err == nil && len(t.Attempts) > 0 && t.Attempts[len(t.Attempts)-1].WorkerID != "" {
			p.mu.Lock()
			p.worker = "worker " + t.Attempts[len(t.Attempts)-1].WorkerID
			p.mu.Unlock()
		}
	case ev.Status == api.TaskQueued && ev.Attempt > 0:
		t, err := c.GetTask(ctx, p.task)
		if err == nil && t.RunAt.After(p.now()) && !api.IsTerminal(t.Status) {
			return p.line(fmt.Sprintf("==> next attempt (%d of %d) in %s, at %s", t.Attempt+1, t.MaxAttempts,
				duration(t.RunAt.Sub(p.now()).Round(time.Second)), t.RunAt.Local().Format(time.TimeOnly)))
		}
	}
	return nil
}

// dropped says once per outage that the event stream dropped and is being
// resumed.
func (p *progress) dropped(err error, wait time.Duration) {
	if p.quiet {
		return
	}
	cause := "the connection dropped"
	if err != nil {
		cause = err.Error()
		if i := strings.LastIndex(cause, ": "); i >= 0 {
			cause = cause[i+2:]
		}
	}
	_ = p.print(fmt.Sprintf("… event stream lost (%s); reconnecting in %s", cause, duration(wait)))
}

// watchPollers warns on stderr, once, when no worker has polled the
// task's queue in the last pollerWindow (see unpolled), checked now and at
// each tick of clock while the task is still queued, until ctx ends. A
// server without the routes, or a key without the scope, gets no warning.
func (p *progress) watchPollers(ctx context.Context, c *client.Client, queue string, clock <-chan time.Time) {
	for {
		p.mu.Lock()
		queued := p.status == api.TaskQueued
		p.mu.Unlock()
		if queued && !p.warned && p.unpolled(ctx, c, queue) {
			p.warned = true
			p.warn(fmt.Sprintf("no worker has polled queue %s in the last %s: the task waits until one does (start one with `baton worker run --queue %s -- CMD`)",
				queue, duration(pollerWindow), queue))
		}
		select {
		case <-ctx.Done():
			return
		case <-clock:
		}
	}
}

// unpolled reports whether no worker has polled queue in the last
// pollerWindow (by the command's clock), from the presence list: GET
// /v1/workers gives each worker's queues and last_seen_at. A workspace key
// lists only its own workers, not the operator's shared ones, so when none
// listed is recent GET /v1/queues' pollers (own and shared, seen in the
// last minute) tell whether some poller is out of sight: it then gets the
// benefit of the doubt. A server without /v1/workers is judged by pollers
// alone; false when neither route answers.
func (p *progress) unpolled(ctx context.Context, c *client.Client, queue string) bool {
	now := p.now()
	workers, werr := c.ListWorkers(ctx)
	stale := 0 // the queue's workers listed as seen in the last minute, but not lately
	for _, w := range workers {
		if !slices.Contains(w.Queues, queue) || now.Sub(w.LastSeenAt) > time.Minute {
			continue
		}
		if now.Sub(w.LastSeenAt) <= pollerWindow {
			return false
		}
		stale++
	}
	queues, qerr := c.ListQueues(ctx)
	if qerr != nil {
		return werr == nil
	}
	pollers := 0
	for _, q := range queues {
		if q.Name == queue {
			pollers = q.Pollers
		}
	}
	return pollers <= stale
}
