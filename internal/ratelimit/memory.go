package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// DefaultMaxEntries caps the keys a Memory limiter holds (about 100 bytes
// each: some 25 MiB at the cap).
const DefaultMaxEntries = 1 << 18

const (
	numShards = 64 // a power of two
	// sweepSample is how many entries an insert looks at to drop idle ones.
	sweepSample = 2
	// evictSample is how many entries are compared to pick a victim when a
	// shard is full of live entries.
	evictSample = 8
)

// MemoryOptions configure NewMemory. The zero value is usable.
type MemoryOptions struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxEntries caps the keys held; DefaultMaxEntries when ≤ 0.
	MaxEntries int
}

// Memory is an in-process Limiter: a sharded map from key to TAT. Memory
// stays bounded: a key whose TAT has passed is idle (it would answer as if
// it had never been seen), so idle keys are dropped as they are met and
// swept when a shard fills; a shard full of live keys evicts the key
// closest to idle, which at worst grants that key a fresh burst.
type Memory struct {
	now      func() time.Time
	perShard int
	seed     maphash.Seed
	shards   [numShards]shard
}

type shard struct {
	mu sync.Mutex
	m  map[string]int64 // key → TAT in Unix nanoseconds
	// sweepAfter is a lower bound of the live TATs after the last full
	// sweep: before it, a sweep would find nothing to drop.
	sweepAfter int64
	_          [40]byte // 64 bytes: shards on separate cache lines
}

// NewMemory returns an in-memory limiter.
func NewMemory(o MemoryOptions) *Memory {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	m := &Memory{now: o.Now, perShard: max((o.MaxEntries+numShards-1)/numShards, 1), seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].m = make(map[string]int64)
	}
	return m
}

// Allow implements Limiter. Errors: a wrapped ErrInvalidLimit only.
func (m *Memory) Allow(_ context.Context, key string, l Limit, n int) (Result, error) {
	if err := l.check(n); err != nil {
		return Result{}, err
	}
	now := m.now().UnixNano()
	s := &m.shards[maphash.String(m.seed, key)&(numShards-1)]
	s.mu.Lock()
	defer s.mu.Unlock()
	tat, ok := s.m[key]
	newTAT, r := decide(now, tat, l, n)
	switch {
	case newTAT > now:
		if !ok {
			s.makeRoom(now, m.perShard)
			s.sweepAfter = min(s.sweepAfter, newTAT)
		}
		s.m[key] = newTAT
	case ok:
		delete(s.m, key) // idle: the same as absent
	}
	return r, nil
}

// Len returns the number of keys held.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// makeRoom is called before a new key is added to s: it drops a few idle
// keys, and when s is at capacity, sweeps every idle key (unless the last
// sweep proved there are none yet) and then evicts the live keys closest to
// idle until there is room. Every loop is bounded by the shard's size.
func (s *shard) makeRoom(now int64, capacity int) {
	seen := 0
	for k, t := range s.m {
		if t <= now {
			delete(s.m, k)
		}
		if seen++; seen == sweepSample {
			break
		}
	}
	if len(s.m) < capacity {
		return
	}
	if now >= s.sweepAfter {
		low := int64(math.MaxInt64)
		for k, t := range s.m {
			if t <= now {
				delete(s.m, k)
			} else {
				low = min(low, t)
			}
		}
		s.sweepAfter = low
	}
	for len(s.m) >= capacity {
		victim, best, seen := "", int64(math.MaxInt64), 0
		for k, t := range s.m {
			if t < best {
				victim, best = k, t
			}
			if seen++; seen == evictSample {
				break
			}
		}
		delete(s.m, victim)
	}
}
