// Package testutil holds small helpers that tests of several packages
// share. Only tests import it.
package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SyncBuffer is a bytes.Buffer safe for concurrent writers and readers:
// a log or process-output destination that a test reads while goroutines
// (a server, a child process's copier) still write to it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Redis returns the options of BATON_TEST_REDIS_URL and a key prefix of the
// test's own, whose keys are deleted when the test ends. It skips the test
// when the variable is unset (CI sets it).
func Redis(tb testing.TB) (*redis.Options, string) {
	tb.Helper()
	url := os.Getenv("BATON_TEST_REDIS_URL")
	if url == "" {
		tb.Skip("BATON_TEST_REDIS_URL is not set")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("BATON_TEST_REDIS_URL: %v", err)
	}
	prefix := "baton-test:" + strings.ToLower(rand.Text()) + ":"
	tb.Cleanup(func() {
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("clean up %s*: %v", prefix, err)
		}
	})
	return opt, prefix
}

// Clock is a clock that moves only when told: inject Now, call Advance.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
