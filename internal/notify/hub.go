// Package notify is an in-process wake-up hub addressed by topic: a claim
// waits for the queues it serves, an event stream for its task, a usage
// stream for its workspace, and a change wakes only those waiting for it.
// The PostgreSQL store bridges it across replicas with LISTEN/NOTIFY.
package notify

import (
	"context"
	"sync"
)

// All is the topic that wakes every waiter (a lost LISTEN connection:
// whatever was missed, everyone re-checks).
const All = ""

// Hub wakes waiters by topic. The zero value is not usable: call New.
type Hub struct {
	mu      sync.Mutex
	waiters map[string]map[*waiter]struct{}
}

type waiter struct {
	ch     chan struct{}
	topics []string
	done   bool
}

// New returns an empty hub.
func New() *Hub { return &Hub{waiters: map[string]map[*waiter]struct{}{}} }

// Subscribe returns a channel closed at the next Notify of any of topics
// (or of All), and a cancel func that forgets the subscription; call it
// when done waiting, whether or not the channel was closed.
func (h *Hub) Subscribe(topics ...string) (<-chan struct{}, func()) {
	w := &waiter{ch: make(chan struct{}), topics: topics}
	h.mu.Lock()
	for _, t := range topics {
		m := h.waiters[t]
		if m == nil {
			m = map[*waiter]struct{}{}
			h.waiters[t] = m
		}
		m[w] = struct{}{}
	}
	h.mu.Unlock()
	return w.ch, func() {
		h.mu.Lock()
		h.remove(w)
		h.mu.Unlock()
	}
}

// Notify wakes the waiters of topics; All among them wakes every waiter.
func (h *Hub) Notify(_ context.Context, topics ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		if t == All {
			for _, m := range h.waiters {
				for w := range m {
					h.fire(w)
				}
			}
			continue
		}
		for w := range h.waiters[t] {
			h.fire(w)
		}
	}
}

// fire closes w's channel and forgets it. h.mu is held.
func (h *Hub) fire(w *waiter) {
	if !w.done {
		w.done = true
		close(w.ch)
	}
	h.remove(w)
}

// remove forgets w under every topic. h.mu is held.
func (h *Hub) remove(w *waiter) {
	for _, t := range w.topics {
		if m := h.waiters[t]; m != nil {
			delete(m, w)
			if len(m) == 0 {
				delete(h.waiters, t)
			}
		}
	}
}

// Waiting returns how many subscriptions wait for topic (tests, metrics).
func (h *Hub) Waiting(topic string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiters[topic])
}
