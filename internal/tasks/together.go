package tasks

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// Claims together. Claimers of one workspace and queues that try at the
// same moment (a herd woken by a submit, or many workers in a drain) would
// each run a claim transaction, and on PostgreSQL those take turns on the
// workspace's row, a commit each. Instead, while one claim of a (workspace,
// queues) is at the store, the claims that arrive wait and then go to the
// store as one claim for all of them (ClaimParams.Workers names each
// task's worker), whose tasks are dealt out in arrival order: a burst of
// claims costs one transaction.

// maxTogether bounds the tasks one claim takes for its claimers.
const maxTogether = 500

// togetherTimeout bounds a claim made for several claimers: it runs
// detached from their contexts, which end at different times.
const togetherTimeout = 30 * time.Second

// together is one (workspace, queues)'s claims waiting for the store.
type together struct {
	waiting []*claimReq
	running bool
}

// claimReq is one claimer's wish: up to max tasks for worker.
type claimReq struct {
	ctx    context.Context
	worker string
	max    int
	got    []store.Task
	capped bool // the claim found the workspace unable to start more
	err    error
	done   chan struct{}
}

// claimers coalesces claims by (workspace, queues), and remembers which
// of them found their queues drained.
type claimers struct {
	mu      sync.Mutex
	groups  map[string]*together
	drained map[string]drainMark
}

// drainMark says a claim of a (workspace, queues) found fewer tasks than it
// asked for, neither capped nor failed: until woken is closed (a task of
// those queues became claimable, here or on another replica) or until, a
// claim that finds them empty again would be a store call for nothing.
type drainMark struct {
	woken <-chan struct{}
	done  func()
	until time.Time
}

// maxDrainMarks bounds the marks kept; past it, expired ones are dropped.
const maxDrainMarks = 10_000

// claimKey is the key of claims of queues in workspaceID.
func claimKey(workspaceID string, queues []string) string {
	return workspaceID + "\x00" + strings.Join(queues, "\x00")
}

// markDrained marks key drained for poll, woken by the subscription woken
// (taken before the claim that found it so), which the mark then owns:
// done cancels it when the mark goes. It reports false, and takes nothing,
// if key has a live mark already — claimers may be waiting on its
// subscription, which must not be cancelled under them.
func (c *claimers) markDrained(key string, woken <-chan struct{}, done func(), poll time.Duration) bool {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.drained == nil {
		c.drained = map[string]drainMark{}
	}
	if old, ok := c.drained[key]; ok {
		if old.live(now) {
			return false
		}
		old.done()
	}
	if len(c.drained) >= maxDrainMarks {
		for k, m := range c.drained {
			if !m.live(now) {
				m.done()
				delete(c.drained, k)
			}
		}
	}
	c.drained[key] = drainMark{woken: woken, done: done, until: now.Add(poll)}
	return true
}

// stillDrained reports whether key has a live mark: its subscription, to
// wait on, and for how much longer it holds. A mark that was woken or ran
// out is dropped.
func (c *claimers) stillDrained(key string) (<-chan struct{}, time.Duration, bool) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.drained[key]
	if !ok {
		return nil, 0, false
	}
	if !m.live(now) {
		m.done()
		delete(c.drained, key)
		return nil, 0, false
	}
	return m.woken, m.until.Sub(now), true
}

// live reports whether m holds at now: not woken, not run out.
func (m drainMark) live(now time.Time) bool {
	select {
	case <-m.woken:
		return false
	default:
		return now.Before(m.until)
	}
}

// claimTogether claims up to max tasks for workerID, together with the
// claims of the same workspace and queues that are waiting meanwhile (see
// above). It returns store.ErrNotFound (possibly wrapped) when it got none,
// and whether the claim found a workspace that could start no more tasks
// (ClaimParams.Slots answered 0 or less).
func (s *Service) claimTogether(ctx context.Context, workspaceID string, queues []string, workerID string, max int) ([]store.Task, bool, error) {
	key := claimKey(workspaceID, queues)
	r := &claimReq{ctx: ctx, worker: workerID, max: max, done: make(chan struct{})}
	c := &s.claimers
	c.mu.Lock()
	if c.groups == nil {
		c.groups = map[string]*together{}
	}
	g := c.groups[key]
	if g == nil {
		g = &together{}
		c.groups[key] = g
	}
	g.waiting = append(g.waiting, r)
	lead := !g.running
	g.running = true
	c.mu.Unlock()
	if lead {
		s.claimRounds(context.WithoutCancel(ctx), key, g, workspaceID, queues)
	}
	select {
	case <-r.done: // a leader's own claim is done by now
		return r.got, r.capped, r.err
	default:
	}
	select {
	case <-r.done:
		return r.got, r.capped, r.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// claimRounds runs the store claims of group g until no claimer waits:
// each round takes the waiting claimers (up to maxTogether tasks) whose
// contexts are still live, claims for all of them at once, and deals out
// the tasks in arrival order.
func (s *Service) claimRounds(ctx context.Context, key string, g *together, workspaceID string, queues []string) {
	c := &s.claimers
	for {
		c.mu.Lock()
		var round []*claimReq
		total := 0
		for len(g.waiting) > 0 && (len(round) == 0 || total+g.waiting[0].max <= maxTogether) {
			r := g.waiting[0]
			g.waiting = g.waiting[1:]
			if r.ctx.Err() != nil {
				r.err = store.ErrNotFound // left while waiting: nothing claimed for it
				close(r.done)
				continue
			}
			round = append(round, r)
			total += r.max
		}
		if len(round) == 0 {
			g.running = false
			delete(c.groups, key)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		workers := make([]string, 0, total)
		for _, r := range round {
			for range r.max {
				workers = append(workers, r.worker)
			}
		}
		rctx, cancel := context.WithTimeout(ctx, togetherTimeout)
		// capped: a workspace could not start all the round asked for, so
		// fewer tasks than asked does not mean the queues are drained.
		var capped atomic.Bool
		slots := func(ws store.Workspace, running int, used store.Consumed) int {
			n := s.slots(ws, running, used)
			if n < total {
				capped.Store(true)
			}
			return n
		}
		p := store.ClaimParams{WorkspaceID: workspaceID, Queues: queues, WorkerID: round[0].worker, Workers: workers,
			Now: s.now(), Lease: s.cfg.Lease, Max: total, Slots: slots}
		if len(round) == 1 {
			p.Workers = nil // one claimer: a plain claim
		}
		got, err := s.cfg.Store.ClaimTasks(rctx, p)
		cancel()
		// Deal out: task i went to workers[i].
		next := 0
		for _, r := range round {
			r.got, r.capped, r.err = nil, capped.Load(), err
			if next < len(got) {
				r.got = got[next:min(next+r.max, len(got))]
			}
			next += r.max
			if len(r.got) == 0 && r.err == nil {
				r.err = store.ErrNotFound
			}
			close(r.done)
		}
	}
}

// Submits together. Creates of one workspace take turns on its row, a
// transaction and a commit each; so while one is at the store, the creates
// of that workspace that arrive wait and then go as one CreateTasks, each
// admitted with the earlier ones of the batch counted.

// createReq is one submit waiting for its batch.
type createReq struct {
	ctx   context.Context
	task  store.Task
	admit store.Admit
	res   store.Created
	done  chan struct{}
}

// creates coalesces creates by workspace.
type creates struct {
	mu     sync.Mutex
	groups map[string]*createGroup
}

type createGroup struct {
	waiting []*createReq
	running bool
}

// createTogether is store.CreateTask of t, batched with the creates of its
// workspace waiting meanwhile.
func (s *Service) createTogether(ctx context.Context, t store.Task, admit store.Admit) (store.Task, bool, error) {
	r := &createReq{ctx: ctx, task: t, admit: admit, done: make(chan struct{})}
	c := &s.creates
	c.mu.Lock()
	if c.groups == nil {
		c.groups = map[string]*createGroup{}
	}
	g := c.groups[t.WorkspaceID]
	if g == nil {
		g = &createGroup{}
		c.groups[t.WorkspaceID] = g
	}
	g.waiting = append(g.waiting, r)
	lead := !g.running
	g.running = true
	c.mu.Unlock()
	if lead {
		s.createRounds(context.WithoutCancel(ctx), t.WorkspaceID, g)
	}
	select {
	case <-r.done:
		return r.res.Task, r.res.Created, r.res.Err
	default:
	}
	select {
	case <-r.done:
		return r.res.Task, r.res.Created, r.res.Err
	case <-ctx.Done():
		// The batch goes on: the task may still be created, as when a
		// client leaves during a commit (its Idempotency-Key finds it).
		return store.Task{}, false, ctx.Err()
	}
}

// createRounds runs the batches of group g until no create waits.
func (s *Service) createRounds(ctx context.Context, ws string, g *createGroup) {
	c := &s.creates
	for {
		c.mu.Lock()
		n := min(len(g.waiting), maxTogether)
		if n == 0 {
			g.running = false
			delete(c.groups, ws)
			c.mu.Unlock()
			return
		}
		batch := g.waiting[:n:n]
		g.waiting = g.waiting[n:]
		c.mu.Unlock()
		ts, admits := make([]store.Task, n), make([]store.Admit, n)
		for i, r := range batch {
			ts[i], admits[i] = r.task, r.admit
		}
		rctx, cancel := context.WithTimeout(ctx, togetherTimeout)
		var (
			got []store.Created
			err error
		)
		if n == 1 {
			var res store.Created
			res.Task, res.Created, res.Err = s.cfg.Store.CreateTask(rctx, ts[0], admits[0])
			got = []store.Created{res}
		} else {
			got, err = s.cfg.Store.CreateTasks(rctx, ts, admits)
		}
		cancel()
		for i, r := range batch {
			if err != nil {
				r.res = store.Created{Err: err}
			} else {
				r.res = got[i]
			}
			close(r.done)
		}
	}
}
