package postgres

import (
	"context"
	"crypto/rand"
	"log/slog"
	"strings"
	"sync"

	"github.com/genericcorp/baton/internal/notify"
)

// notifyChannel is the LISTEN/NOTIFY channel replicas share.
const notifyChannel = "baton_changes"

// maxPayload is PostgreSQL's NOTIFY payload limit less a margin (and the
// origin's room, see Notifier); topics are
// short (a prefix and an id or two), longer ones are only delivered locally.
const maxPayload = 7000

// Notifier wakes waiters by topic on every replica: Notify wakes this
// process's waiters at once and sends the topics with pg_notify, and a
// dedicated connection LISTENs and wakes this process's waiters for every
// replica's topics, so a claim on replica B sees a submit on replica A at
// once. Topics notified while a send is in flight go together in the next
// one: a burst of submits costs a few statements, not one each.
//
// Each payload starts with the sending notifier's origin and a space. The
// LISTEN connection hears this replica's own notifications too; they are
// dropped, since Notify woke the local waiters already: delivered again,
// the echo woke every idle claimer of the queue a second time, after the
// first of them had taken the task, for a claim that found nothing (two
// store claims per submit, and the herd's requests queued behind them).
type Notifier struct {
	s      *Store
	local  *notify.Hub
	log    *slog.Logger
	origin string

	mu      sync.Mutex
	pending map[string]struct{}
	kick    chan struct{}
	loops   sync.WaitGroup
}

// Notifier starts listening and sending until ctx is done and returns the
// notifier; Wait waits for both loops to end after that, before the store
// closes.
func (s *Store) Notifier(ctx context.Context, log *slog.Logger) *Notifier {
	n := &Notifier{s: s, local: notify.New(), log: log, origin: rand.Text()[:12],
		pending: map[string]struct{}{}, kick: make(chan struct{}, 1)}
	n.loops.Go(func() { n.listen(ctx) })
	n.loops.Go(func() { n.send(ctx) })
	return n
}

// Wait returns when the notifier's loops have ended (their context is
// done).
func (n *Notifier) Wait() { n.loops.Wait() }

// Notify wakes local waiters of topics and queues them for the other
// replicas.
func (n *Notifier) Notify(ctx context.Context, topics ...string) {
	n.local.Notify(ctx, topics...)
	n.mu.Lock()
	for _, t := range topics {
		if len(t) <= maxPayload {
			n.pending[t] = struct{}{}
		}
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Subscribe waits for topics (see notify.Hub.Subscribe).
func (n *Notifier) Subscribe(topics ...string) (<-chan struct{}, func()) {
	return n.local.Subscribe(topics...)
}

// send sends the pending topics, all of them in one statement, whenever
// there are some.
func (n *Notifier) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		n.mu.Lock()
		topics := make([]string, 0, len(n.pending))
		for t := range n.pending {
			topics = append(topics, t)
		}
		clear(n.pending)
		n.mu.Unlock()
		if len(topics) == 0 {
			continue
		}
		_, err := n.s.pool.Exec(ctx, `SELECT pg_notify($1, $3 || ' ' || t) FROM unnest($2::text[]) AS t`,
			notifyChannel, topics, n.origin)
		if err != nil && ctx.Err() == nil {
			// Other replicas' waiters poll the store meanwhile.
			n.log.Warn("NOTIFY failed; other replicas see the change at their next poll", "err", err)
		}
	}
}

// listen holds the LISTEN connection (see Store.listen); while it is
// down, waiters re-check the store.
func (n *Notifier) listen(ctx context.Context) {
	n.s.listen(ctx, n.log, notifyChannel, listenHooks{
		deliver: func(payload string) {
			if topic, ok := n.topicOf(payload); ok && topic != notify.All {
				n.local.Notify(ctx, topic)
			}
		},
		lost: func() { n.local.Notify(ctx, notify.All) },
	})
}

// topicOf is the topic of a payload heard on the channel, and false for
// this notifier's own. A payload without an origin (a replica of an older
// version) is all topic.
func (n *Notifier) topicOf(payload string) (string, bool) {
	origin, topic, ok := strings.Cut(payload, " ")
	if !ok {
		return payload, true
	}
	return topic, origin != n.origin
}
