package server

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/genericcorp/baton/internal/ratelimit"
)

// maxFailingAddrs bounds the addresses a failingAddrs remembers; past it
// the longest-quiet ones are forgotten (they are asked about again at
// their next failure).
const maxFailingAddrs = 1 << 16

// failingAddrs is this replica's view of the addresses whose
// failed-authentication bucket is not full: the only ones the limiter is
// asked about before a lookup. An address another replica saw fail is
// learnt here at its first failure on this one, so the limiter (Redis)
// still counts every failure, and an address escapes the check for at
// most one guess per replica.
type failingAddrs struct {
	mu    sync.Mutex
	until *simplelru.LRU[string, time.Time] // address → when its bucket is full again
	// n is until's length, readable without mu: while no address is
	// failing (nearly always), a request needs neither this lock nor the
	// key cache's to learn that its address is not suspect.
	n atomic.Int64
}

// any reports whether some address failed recently.
func (f *failingAddrs) any() bool { return f.n.Load() > 0 }

func newFailingAddrs() *failingAddrs {
	l, _ := simplelru.NewLRU[string, time.Time](maxFailingAddrs, nil) // fails only for a size < 1
	return &failingAddrs{until: l}
}

// suspect reports whether addr failed recently, as far as this replica knows.
func (f *failingAddrs) suspect(addr string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.until.Get(addr)
	if ok && !now.Before(u) {
		f.until.Remove(addr)
		f.n.Store(int64(f.until.Len()))
		return false
	}
	return ok
}

// observe records the limiter's answer about addr's failure bucket.
func (f *failingAddrs) observe(addr string, res ratelimit.Result, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() { f.n.Store(int64(f.until.Len())) }()
	if res.Remaining >= res.Limit.Burst && res.ResetAfter <= 0 {
		f.until.Remove(addr)
		return
	}
	f.until.Add(addr, now.Add(max(res.ResetAfter, res.RetryAfter, time.Second)))
}
