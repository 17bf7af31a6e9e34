package tasks

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Workers and queues: who polls, and what waits for them.
const (
	// WorkerWindow is how recently a worker must have polled to be listed.
	WorkerWindow = time.Minute
	// seenEvery bounds how often one worker's row is written: a worker
	// polling in a loop costs one statement per 15 s, not one per claim.
	seenEvery = 15 * time.Second
	// pruneEvery and pruneAfter: workers not seen for an hour are deleted,
	// checked at most hourly by each replica.
	pruneEvery = time.Hour
	pruneAfter = time.Hour
)

// fleet remembers what this replica last wrote of each worker.
type fleet struct {
	mu        sync.Mutex
	written   map[[2]string]store.Worker // (workspace, id) → last written
	lastPrune time.Time
}

// Seen records that w polled now. The row is written when it is new to
// this replica, changed (queues, concurrency, host, version), or older than
// 15 s; a store error is logged, never fails the claim.
func (s *Service) Seen(ctx context.Context, w store.Worker) {
	now := s.now()
	w.LastSeenAt = now
	k := [2]string{w.WorkspaceID, w.ID}
	f := &s.fleet
	f.mu.Lock()
	if f.written == nil {
		f.written = map[[2]string]store.Worker{}
	}
	last, ok := f.written[k]
	fresh := ok && now.Sub(last.LastSeenAt) < seenEvery && last.Host == w.Host && last.Version == w.Version &&
		last.Concurrency == w.Concurrency && slices.Equal(last.Queues, w.Queues)
	prune := now.Sub(f.lastPrune) >= pruneEvery
	if !fresh {
		f.written[k] = w
	}
	if prune {
		f.lastPrune = now
		for k, v := range f.written {
			if now.Sub(v.LastSeenAt) >= pruneAfter {
				delete(f.written, k)
			}
		}
	}
	f.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	if !fresh {
		if err := s.cfg.Store.SeenWorker(ctx, w); err != nil {
			s.cfg.Log.Warn("record worker", "worker", w.ID, "err", err)
			f.mu.Lock()
			delete(f.written, k) // try again at its next claim
			f.mu.Unlock()
		}
	}
	if prune {
		if err := s.cfg.Store.PruneWorkers(ctx, now.Add(-pruneAfter)); err != nil {
			s.cfg.Log.Warn("prune workers", "err", err)
		}
	}
}

// Workers lists the workers of workspace id (every worker for
// store.AnyWorkspace) seen polling in the last WorkerWindow.
func (s *Service) Workers(ctx context.Context, id string) ([]store.Worker, error) {
	return s.cfg.Store.ListWorkers(ctx, id, s.now().Add(-WorkerWindow))
}

// Queue is one queue of a workspace as GET /v1/queues shows it.
type Queue struct {
	Name                           string
	Queued, Held, Running, Waiting int
	OldestQueuedAt                 time.Time
	Pollers                        int
}

// Queues lists ws's queues: queued tasks are counted as held while ws
// cannot start tasks (suspended, or a monthly quota used up); pollers are
// the workers of ws and the shared workers that polled the queue in the
// last WorkerWindow. Reads counts, never tasks.
func (s *Service) Queues(ctx context.Context, ws store.Workspace) ([]Queue, error) {
	counts, err := s.cfg.Store.ListQueues(ctx, ws.ID)
	if err != nil {
		return nil, err
	}
	hold, err := s.HoldReason(ctx, ws)
	if err != nil {
		return nil, err
	}
	since := s.now().Add(-WorkerWindow)
	own, err := s.cfg.Store.ListWorkers(ctx, ws.ID, since)
	if err != nil {
		return nil, err
	}
	shared, err := s.cfg.Store.ListWorkers(ctx, store.OperatorWorkspace, since)
	if err != nil {
		return nil, err
	}
	pollers := map[string]int{}
	for _, w := range slices.Concat(own, shared) {
		for _, q := range w.Queues {
			pollers[q]++
		}
	}
	out := make([]Queue, 0, len(counts))
	for _, c := range counts {
		q := Queue{Name: c.Queue, Running: c.Counts[api.TaskRunning], Waiting: c.Counts["waiting"], /* api.TaskWaiting, with durable steps */
			OldestQueuedAt: c.OldestQueuedAt, Pollers: pollers[c.Queue]}
		if hold != "" {
			q.Held = c.Counts[api.TaskQueued]
		} else {
			q.Queued = c.Counts[api.TaskQueued]
		}
		out = append(out, q)
	}
	return out, nil
}

// VersionOf reads the version from a User-Agent "baton/1.2.3 …": "" if
// the agent is not baton's, or the version is not 1–64 characters of
// letters, digits and ".+-_".
func VersionOf(userAgent string) string {
	v, ok := strings.CutPrefix(userAgent, "baton/")
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, " ")
	if len(v) == 0 || len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(".+-_", r))
	}) {
		return ""
	}
	return v
}
