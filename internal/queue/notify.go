// Package queue runs baton's durable task queue on top of the store: the
// long-poll claim with wake-ups, the lease reaper, and retry backoff.
package queue

import (
	"context"
	"sync"
)

// Notifier wakes waiting claimers and event followers when something
// changed. Implementations: Local (one process) and the PostgreSQL
// LISTEN/NOTIFY bridge (every replica).
type Notifier interface {
	// Notify says that topic changed (a queue name, or a task id).
	Notify(ctx context.Context, topic string)
	// Changed returns a channel closed at the next Notify of any topic.
	Changed() <-chan struct{}
}

// Local is an in-process Notifier: a broadcast by closing a channel.
type Local struct {
	mu sync.Mutex
	ch chan struct{}
}

// NewLocal returns a Local notifier.
func NewLocal() *Local { return &Local{ch: make(chan struct{})} }

// Notify wakes everyone waiting on Changed.
func (l *Local) Notify(context.Context, string) {
	l.mu.Lock()
	close(l.ch)
	l.ch = make(chan struct{})
	l.mu.Unlock()
}

// Changed returns the channel the next Notify closes.
func (l *Local) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ch
}
