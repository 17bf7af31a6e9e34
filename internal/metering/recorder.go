package metering

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// UsageWriter is what the Recorder needs of the store.
type UsageWriter interface {
	RecordUsage(ctx context.Context, events ...store.UsageEvent) (int, error)
}

// RecorderConfig tunes a Recorder. Zero values take the defaults.
type RecorderConfig struct {
	Store UsageWriter
	// FlushEvery is how often counted API calls are written (default 1 s).
	FlushEvery time.Duration
	// Replica names this process in the ids of its usage events (random
	// when empty): two processes never share an id, so neither's events
	// are taken for the other's replays.
	Replica string
	// Recent is how many request ids are remembered so that a retried
	// request counts once (default 65 536).
	Recent int
	Now    func() time.Time
	Log    *slog.Logger
	// OnFlush, when set, is called after a successful write with the
	// workspaces whose usage changed (the server wakes usage streams).
	OnFlush func(workspaces []string)
}

// Recorder meters API calls. Writing a usage event per request would put
// every API call through the store's writer; instead calls are counted in
// memory per workspace (and UTC hour, the rollups' bucket) and written
// every FlushEvery, and at shutdown, as one usage event per workspace: one
// row per workspace per interval, in one transaction.
//
// Each event's id is "api/REPLICA/WORKSPACE/SEQ", fixed when its counts are
// taken: a flush that failed is retried with the same events (and ids), so
// a write that did commit though its caller saw an error counts once;
// calls counted meanwhile wait for the next flush. A request id seen in
// the last Recent calls is not counted again (pkg/client keeps it across
// the retries of one call; a retry that reaches another replica counts
// twice).
//
// What a crash can lose is what was not written yet: at most one flush
// interval of API-call counts (or, while the store is unreachable, what
// was counted since it became so). Task executions, execution time and
// spend — what quotas enforce — are metered inside the task transitions'
// transactions and never buffered.
//
// The Recorder also keeps, per workspace, the calls of the last minute as
// this replica saw them: the api_rate gauge.
type Recorder struct {
	cfg RecorderConfig

	flushMu sync.Mutex // one flush at a time

	mu     sync.Mutex
	counts map[hourOf]*count  // counted, not yet in an event
	batch  []store.UsageEvent // taken, not yet written (retried as is)
	seq    uint64             // of the last event id
	recent *recentCalls       // workspace/request ids counted lately
	rates  map[string]*minute
}

// recentCalls remembers the last n calls (workspace and request id) it was
// asked about, first in first out, as 128-bit hashes under seeds of its
// own: memory without pointers, which the GC does not scan. A busy server
// keeps n = 65 536 of them; as strings in an LRU they were ~12 MB of
// pointers that every GC cycle marked. Two calls share a hash with
// probability about n/2^128: none in practice.
type recentCalls struct {
	seeds [2]maphash.Seed
	ring  []callHash // the ids in the order they came; next is the oldest
	next  int
	set   map[callHash]struct{}
}

type callHash [2]uint64

func newRecentCalls(n int) *recentCalls {
	return &recentCalls{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		ring: make([]callHash, 0, n), set: make(map[callHash]struct{}, n)}
}

// seen reports whether the call of workspace and request was seen among
// the last n, and remembers it if not, forgetting the oldest.
func (rc *recentCalls) seen(workspace, request string) bool {
	var id callHash
	for i, seed := range rc.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(workspace)
		h.WriteByte(0) // ids hold no NUL (validated text)
		h.WriteString(request)
		id[i] = h.Sum64()
	}
	if _, ok := rc.set[id]; ok {
		return true
	}
	if len(rc.ring) < cap(rc.ring) {
		rc.ring = append(rc.ring, id)
	} else {
		delete(rc.set, rc.ring[rc.next])
		rc.ring[rc.next] = id
		rc.next = (rc.next + 1) % len(rc.ring)
	}
	rc.set[id] = struct{}{}
	return false
}

// hourOf is a workspace's hour (UTC): one rollup bucket.
type hourOf struct {
	workspace string
	hour      time.Time
}

type count struct {
	n    int64
	last time.Time // of the last call counted
}

// minute counts calls per second over the last 60 seconds.
type minute struct {
	secs  [60]int64
	stamp [60]int64 // the Unix second each slot counts
}

func (m *minute) add(sec int64) {
	i := sec % 60
	if m.stamp[i] != sec {
		m.stamp[i], m.secs[i] = sec, 0
	}
	m.secs[i]++
}

func (m *minute) sum(now int64) int64 {
	var n int64
	for i := range m.secs {
		if now-m.stamp[i] < 60 && m.stamp[i] <= now {
			n += m.secs[i]
		}
	}
	return n
}

// NewRecorder returns a Recorder; call Run to flush it.
func NewRecorder(cfg RecorderConfig) *Recorder {
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = time.Second
	}
	if cfg.Recent <= 0 {
		cfg.Recent = 1 << 16
	}
	if cfg.Replica == "" {
		cfg.Replica = strings.ToLower(rand.Text()[:12])
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Recorder{cfg: cfg, counts: map[hourOf]*count{}, recent: newRecentCalls(cfg.Recent), rates: map[string]*minute{}}
}

// APICall meters one authenticated API call of workspaceID, identified by
// requestID: a request id counted lately is not counted again.
func (r *Recorder) APICall(workspaceID, requestID string) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if requestID != "" {
		if r.recent.seen(workspaceID, requestID) {
			return
		}
	}
	m := r.rates[workspaceID]
	if m == nil {
		m = &minute{}
		r.rates[workspaceID] = m
	}
	m.add(now.Unix())
	k := hourOf{workspace: workspaceID, hour: store.UsageHour(now)}
	c := r.counts[k]
	if c == nil {
		c = &count{}
		r.counts[k] = c
	}
	c.n++
	c.last = now
}

// Rate is workspaceID's API calls in the last minute, as this replica saw
// them.
func (r *Recorder) Rate(workspaceID string) int64 {
	now := r.cfg.Now().Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rates[workspaceID]
	if m == nil {
		return 0
	}
	return m.sum(now)
}

// take turns the counts into usage events with ids of their own; r.mu held.
func (r *Recorder) take() []store.UsageEvent {
	events := make([]store.UsageEvent, 0, len(r.counts))
	for k, c := range r.counts {
		r.seq++
		events = append(events, store.UsageEvent{ID: fmt.Sprintf("api/%s/%s/%d", r.cfg.Replica, k.workspace, r.seq),
			WorkspaceID: k.workspace, Metric: store.MetricAPICalls, Value: c.n, At: c.last})
	}
	clear(r.counts)
	return events
}

// Flush writes the calls counted so far in one transaction: one event per
// workspace (per hour). When the previous flush failed, it retries that
// one's events, unchanged, first; the calls counted since go out with the
// next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	if len(r.batch) == 0 {
		r.batch = r.take()
	}
	batch := r.batch
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	_, err := r.cfg.Store.RecordUsage(ctx, batch...)
	left := []store.UsageEvent(nil)
	if errors.Is(err, store.ErrNotFound) {
		// A workspace was deleted meanwhile: write the others' apart.
		left, err = r.flushEach(ctx, batch)
	} else if err != nil {
		left = batch
	}
	r.mu.Lock()
	r.batch = left
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if r.cfg.OnFlush != nil {
		r.cfg.OnFlush(workspaces(batch))
	}
	r.evictIdle()
	return nil
}

// flushEach writes batch one workspace at a time, dropping the events of
// workspaces that no longer exist. It returns the events not written
// (all of a workspace whose write failed otherwise) and the first error.
func (r *Recorder) flushEach(ctx context.Context, batch []store.UsageEvent) ([]store.UsageEvent, error) {
	var (
		left  []store.UsageEvent
		first error
	)
	for _, ws := range workspaces(batch) {
		var evs []store.UsageEvent
		for _, e := range batch {
			if e.WorkspaceID == ws {
				evs = append(evs, e)
			}
		}
		_, err := r.cfg.Store.RecordUsage(ctx, evs...)
		switch {
		case errors.Is(err, store.ErrNotFound):
			r.cfg.Log.Info("usage: dropped the API calls of a deleted workspace", "workspace_id", ws, "calls", total(evs))
		case err != nil:
			left = append(left, evs...)
			first = cmp.Or(first, err)
		}
	}
	return left, first
}

// total sums the events' values.
func total(events []store.UsageEvent) int64 {
	var n int64
	for _, e := range events {
		n += e.Value
	}
	return n
}

// workspaces returns the distinct workspace ids of events, in order of
// first appearance.
func workspaces(events []store.UsageEvent) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range events {
		if !seen[e.WorkspaceID] {
			seen[e.WorkspaceID] = true
			out = append(out, e.WorkspaceID)
		}
	}
	return out
}

// evictIdle forgets the rate windows of workspaces idle for a minute, so
// memory follows the active workspaces.
func (r *Recorder) evictIdle() {
	now := r.cfg.Now().Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	for ws, m := range r.rates {
		if m.sum(now) == 0 {
			delete(r.rates, ws)
		}
	}
}

// Run flushes every FlushEvery until ctx ends, then flushes once more
// (with a short deadline of its own) so a graceful shutdown loses nothing.
func (r *Recorder) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := r.Flush(fctx); err != nil {
				r.cfg.Log.Error("usage: final flush failed: API calls lost", "err", err, "calls", r.Pending())
			}
			return
		case <-t.C:
			if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Log.Warn("usage: flush failed; will retry", "err", err, "calls", r.Pending())
			}
		}
	}
}

// Pending is how many API calls wait to be written.
func (r *Recorder) Pending() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := total(r.batch)
	for _, c := range r.counts {
		n += c.n
	}
	return n
}
