package flow

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/lifecycle"
)

// Group commit. Heartbeats, completions and ends of attempts that arrive
// while a transaction of them is in flight wait for it and then go
// together in the next one: a batch locks its tasks, reads their attempts
// and writes them back with a fixed number of statements and one commit,
// however many it holds. Nobody waits for a timer: at low load a call is
// a batch of one at once; under load batches grow by themselves (as
// River's batch completer folds completions, without its fixed delay).
// Each call returns when its batch is durable.

// MaxGroup is the most calls one transaction carries.
const MaxGroup = 500

// groupTimeout bounds one batch's transaction: it runs detached from the
// callers, whose contexts end at different times.
const groupTimeout = 30 * time.Second

// Flows are a store's write flows: the Runner's, and the group-committed
// fenced transitions (Heartbeat, Complete, EndTask).
type Flows struct {
	Runner
	mu      sync.Mutex
	pending []*fencedCall
	calls   []*txCall
	running bool
}

// txCall is a function waiting to run in the next batch (InBatch).
type txCall struct {
	fn   func(tx Tx) error
	err  error
	done chan struct{}
}

// InBatch runs fn in the next group-commit transaction, with the fenced
// transitions and other InBatch calls pending then, and returns when that
// transaction is durable: on a store with one writer (SQLite), where every
// transaction waits for the one before and each costs a sync to disk,
// concurrent claims share a commit with each other and with completions.
// fn's error fails the whole transaction, which is then run again a call
// at a time, fn getting its own error; so fn may run twice and must set
// its results afresh each time, and report outcomes that are not failures
// (nothing to claim) through them, not as errors. Not for PostgreSQL,
// whose row locks make unrelated work in one transaction wait for each
// other.
func (f *Flows) InBatch(ctx context.Context, fn func(tx Tx) error) error {
	c := &txCall{fn: fn, done: make(chan struct{})}
	f.join(ctx, func() { f.calls = append(f.calls, c) })
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewFlows returns the flows of run.
func NewFlows(run Runner) *Flows { return &Flows{Runner: run} }

// fencedCall is one transition of a running attempt waiting for its batch.
type fencedCall struct {
	workspaceID, id string
	attempt         int
	at              time.Time
	apply           func(t *store.Task, a *store.Attempt) (event bool, msg string, err error)
	out             store.Task
	err             error
	done            chan struct{}
}

// fenced applies fn to task id of workspaceID and its attempt if attempt
// is its current running attempt, and writes both back: with a state event
// carrying fn's message if event is true, and the usage the attempt gained
// metered. It is group-committed (see MaxGroup). Returns store.ErrNotFound
// if the task is absent, and the unchanged task with store.ErrStale if
// attempt is not current and running.
func (f *Flows) fenced(ctx context.Context, workspaceID, id string, attempt int, at time.Time,
	fn func(t *store.Task, a *store.Attempt) (event bool, msg string, err error)) (store.Task, error) {
	c := &fencedCall{workspaceID: workspaceID, id: id, attempt: attempt, at: at, apply: fn, done: make(chan struct{})}
	f.join(ctx, func() { f.pending = append(f.pending, c) })
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		// The batch goes on: the transition may still be recorded, as
		// when a client leaves during a commit.
		return store.Task{}, ctx.Err()
	}
}

// join queues a call (add runs under f.mu) and, if no drainer runs,
// becomes it.
func (f *Flows) join(ctx context.Context, add func()) {
	f.mu.Lock()
	add()
	lead := !f.running
	f.running = true
	f.mu.Unlock()
	if lead {
		f.drain(context.WithoutCancel(ctx))
	}
}

// drain runs the pending calls in batches until none is left. One drainer
// runs at a time; the caller that found none running becomes it, and hands
// on to a new goroutine once its own call is done, so that no caller waits
// for more than the batch it joined and the one before.
func (f *Flows) drain(ctx context.Context) {
	for {
		f.mu.Lock()
		n, m := min(len(f.pending), MaxGroup), min(len(f.calls), MaxGroup)
		if n+m == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		batch, calls := f.pending[:n:n], f.calls[:m:m]
		f.pending, f.calls = f.pending[n:], f.calls[m:]
		more := len(f.pending)+len(f.calls) > 0
		f.mu.Unlock()
		f.runBatch(ctx, batch, calls)
		if more {
			go f.drain(ctx)
			return
		}
	}
}

// runBatch runs batch and calls in one transaction: the calls first, then
// the fenced transitions. Should the transaction fail as a whole (a driver
// error, a deadlock, a call's error), each is run again alone, so that one
// bad call cannot fail the others.
func (f *Flows) runBatch(ctx context.Context, batch []*fencedCall, calls []*txCall) {
	ctx, cancel := context.WithTimeout(store.WithScope(ctx, batchScope(batch, calls)), groupTimeout)
	defer cancel()
	err := f.Runner(ctx, func(tx Tx) error {
		for _, c := range calls {
			if err := c.fn(tx); err != nil {
				return err
			}
		}
		if len(batch) == 0 {
			return nil
		}
		return fencedBatch(ctx, tx, batch)
	})
	switch {
	case err != nil && len(batch)+len(calls) > 1:
		for _, c := range calls {
			c.err = f.Runner(ctx, c.fn)
		}
		for _, c := range batch {
			if err := f.Runner(ctx, func(tx Tx) error { return fencedBatch(ctx, tx, []*fencedCall{c}) }); err != nil {
				c.out, c.err = store.Task{}, err
			}
		}
	case err != nil && len(calls) == 1:
		calls[0].err = err
	case err != nil:
		batch[0].out, batch[0].err = store.Task{}, err
	}
	for _, c := range calls {
		close(c.done)
	}
	for _, c := range batch {
		close(c.done)
	}
}

// batchScope is the row-level security scope of a batch (see store.Scope):
// the workspaces of its fenced transitions, not the scope of the caller
// that happens to drain it. InBatch calls (claims on SQLite, which has no
// row security) make it system work.
func batchScope(batch []*fencedCall, calls []*txCall) store.Scope {
	if len(calls) > 0 {
		return store.SystemScope()
	}
	ids := make([]string, len(batch))
	for i, c := range batch {
		ids[i] = c.workspaceID
	}
	return store.TenantScope(ids...)
}

// fencedBatch does the calls of batch in tx: it locks their tasks (in id
// order, so concurrent batches never deadlock) and reads their current
// attempts (one round trip on PostgreSQL), applies each call in arrival order (a second call on
// one task sees what the first did), and writes the attempts, usage, tasks
// and state events back in one statement each. A call that fails its check
// (absent, stale, an invalid outcome) gets its error and changes nothing;
// an error of the transaction itself is returned.
func fencedBatch(ctx context.Context, tx Tx, batch []*fencedCall) error {
	refs := make([]TaskRef, len(batch))
	for i, c := range batch {
		refs[i] = TaskRef{WorkspaceID: c.workspaceID, ID: c.id}
	}
	rows, read, err := tx.LockTasks(ctx, refs)
	if err != nil {
		return err
	}
	byID := make(map[string]*Row, len(rows))
	for i := range rows {
		byID[rows[i].Task.ID] = &rows[i]
	}
	attempts := make(map[AttemptRef]*store.Attempt, len(read))
	for i := range read {
		attempts[AttemptRef{TaskID: read[i].TaskID, Number: read[i].Number}] = &read[i]
	}
	var (
		changedAttempts []store.Attempt
		usage           []store.UsageEvent
		events          []store.TaskEvent
		touched         = map[string]bool{}
	)
	for _, c := range batch {
		r := byID[c.id]
		if r == nil || r.Task.WorkspaceID != c.workspaceID {
			c.err = store.ErrNotFound
			continue
		}
		if !lifecycle.Current(r.Task, c.attempt) {
			c.out, c.err = r.Task, store.ErrStale
			continue
		}
		a := attempts[AttemptRef{TaskID: c.id, Number: c.attempt}]
		if a == nil {
			return fmt.Errorf("task %s: attempt %d: %w", c.id, c.attempt, store.ErrNotFound)
		}
		t, cur := r.Task, *a
		event, msg, err := c.apply(&t, &cur)
		if err != nil {
			c.err = err
			continue
		}
		usage = append(usage, meterEvents(t.WorkspaceID, *a, cur, c.at)...)
		*a = cur
		r.Task = t
		if event {
			r.Seq++
			events = append(events, stateEvent(*r, msg, c.at))
		}
		touched[c.id] = true
		c.out = r.Task
	}
	var save []Row
	for _, r := range rows {
		if touched[r.Task.ID] {
			save = append(save, *byID[r.Task.ID])
			changedAttempts = append(changedAttempts, *attempts[AttemptRef{TaskID: r.Task.ID, Number: r.Task.Attempt}])
		}
	}
	if len(save) == 0 {
		return nil
	}
	return tx.Write(ctx, Writes{Attempts: changedAttempts, Usage: usage, Tasks: save, Events: events})
}
