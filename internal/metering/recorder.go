package metering

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
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
	// FlushEvery is how often buffered API calls are written (default 1 s).
	FlushEvery time.Duration
	// MaxPending bounds the buffer while the store is unreachable (default
	// 100 000 events); past it the oldest are dropped, logged and counted.
	MaxPending int
	Now        func() time.Time
	Log        *slog.Logger
	// OnFlush, when set, is called after a successful write with the
	// workspaces whose usage changed (the server wakes usage streams).
	OnFlush func(workspaces []string)
	// OnDrop, when set, is called with how many events were dropped.
	OnDrop func(n int)
}

// Recorder meters API calls. Writing one usage event per request in the
// request's own transaction would put every API call through the store's
// writer; instead calls are buffered and written in batches (one
// transaction per flush, every FlushEvery and at shutdown). Each event's id
// is the request id, which pkg/client keeps across the retries of one call,
// so a retried request counts once. What a crash can lose is at most one
// flush interval of API-call counts; task executions, execution time and
// spend — what quotas enforce — are metered inside the task transitions'
// transactions and never buffered.
//
// The Recorder also keeps, per workspace, the calls of the last minute as
// this replica saw them: the api_rate gauge.
type Recorder struct {
	cfg RecorderConfig

	mu      sync.Mutex
	pending []store.UsageEvent
	rates   map[string]*minute
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
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100_000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Recorder{cfg: cfg, rates: map[string]*minute{}}
}

// APICall meters one authenticated API call of workspaceID, identified by
// requestID (its dedup id).
func (r *Recorder) APICall(workspaceID, requestID string) {
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.rates[workspaceID]
	if m == nil {
		m = &minute{}
		r.rates[workspaceID] = m
	}
	m.add(now.Unix())
	r.pending = append(r.pending, store.UsageEvent{ID: "req/" + requestID, WorkspaceID: workspaceID,
		Metric: store.MetricAPICalls, Value: 1, At: now})
	if over := len(r.pending) - r.cfg.MaxPending; over > 0 {
		r.pending = append(r.pending[:0], r.pending[over:]...)
		r.cfg.Log.Warn("usage buffer full: dropped the oldest API-call events", "dropped", over)
		if r.cfg.OnDrop != nil {
			r.cfg.OnDrop(over)
		}
	}
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

// Flush writes the buffered events in one transaction. On failure they stay
// buffered for the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	_, err := r.cfg.Store.RecordUsage(ctx, batch...)
	if errors.Is(err, store.ErrNotFound) {
		// A workspace was deleted meanwhile: write the others' apart.
		batch, err = r.flushEach(ctx, batch)
	}
	if err != nil {
		r.mu.Lock()
		r.pending = append(batch, r.pending...)
		r.mu.Unlock()
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
			r.cfg.Log.Info("usage: dropped the API calls of a deleted workspace", "workspace_id", ws, "events", len(evs))
		case err != nil:
			left = append(left, evs...)
			first = cmp.Or(first, err)
		}
	}
	return left, first
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
				r.cfg.Log.Error("usage: final flush failed: API-call events lost", "err", err, "events", r.Pending())
			}
			return
		case <-t.C:
			if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
				r.cfg.Log.Warn("usage: flush failed; will retry", "err", err, "events", r.Pending())
			}
		}
	}
}

// Pending is how many events wait to be written.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}
