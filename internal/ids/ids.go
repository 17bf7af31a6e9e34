// Package ids makes baton's object ids: a type prefix and a lowercase ULID,
// so ids sort by creation time (ws_01j…, key_01j…, task_01j…).
package ids

import (
	"crypto/rand"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of object ids.
const (
	Workspace = "ws_"
	Key       = "key_"
	Task      = "task_"
	Audit     = "aud_"
	Alert     = "alert_"
	Request   = "req_"
)

var (
	mu sync.Mutex
	// entropy keeps one monotonic source per millisecond, so ids of one
	// millisecond increase in the order they are made even when ids of
	// other times (another clock, a backdated event) are made in between.
	// Bounded: cleared when it grows past maxEntropies milliseconds.
	entropy = map[uint64]*ulid.MonotonicEntropy{}
)

const maxEntropies = 4096

// New returns prefix + a new lowercase ULID. Ids made in one process are
// strictly increasing, even within one millisecond.
func New(prefix string) string {
	return NewAt(prefix, time.Now())
}

// NewAt is New with the time part taken from t.
func NewAt(prefix string, t time.Time) string {
	ms := ulid.Timestamp(t)
	mu.Lock()
	e := entropy[ms]
	if e == nil {
		if len(entropy) >= maxEntropies {
			clear(entropy)
		}
		e = ulid.Monotonic(rand.Reader, 0)
		entropy[ms] = e
	}
	id := ulid.MustNew(ms, e)
	mu.Unlock()
	return prefix + strings.ToLower(id.String())
}

// Valid reports whether s is prefix followed by a well-formed ULID.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(strings.ToUpper(rest))
	return err == nil
}
