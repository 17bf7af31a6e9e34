package postgres

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestNotifierCrossesConnections: a Notify from one store (replica A) wakes
// a waiter on another store's notifier (replica B).
func TestNotifierCrossesConnections(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nb := b.Notifier(ctx, slog.New(slog.DiscardHandler))
	na := a.Notifier(ctx, slog.New(slog.DiscardHandler))

	// B's LISTEN may not be up yet when A first notifies: keep notifying
	// until B wakes, bounded by a deadline. Only the topic B waits for
	// wakes it; another topic, sent first, does not.
	topic := "queue:" + t.Name() + "/default"
	deadline := time.After(10 * time.Second)
	for {
		ch, cancel := nb.Subscribe(topic)
		other, cancelOther := nb.Subscribe(topic + "-other")
		na.Notify(ctx, topic+"-elsewhere")
		na.Notify(ctx, topic)
		select {
		case <-ch:
			select {
			case <-other:
				t.Error("a waiter of another topic was woken")
			default:
			}
			cancel()
			cancelOther()
			return
		case <-deadline:
			t.Fatal("replica B was not woken by replica A's notify")
		case <-time.After(50 * time.Millisecond):
		}
		cancel()
		cancelOther()
	}
}

// TestNotifierDropsItsOwnEcho: the LISTEN connection hears this replica's
// own notifications, which Notify has delivered locally already; only
// other replicas' (and older replicas' payloads, without an origin) are
// delivered.
func TestNotifierDropsItsOwnEcho(t *testing.T) {
	n := &Notifier{origin: "AAAAAAAAAAAA"}
	for _, c := range []struct {
		payload, topic string
		ok             bool
	}{
		{"AAAAAAAAAAAA queue:ws/default", "", false},
		{"BBBBBBBBBBBB queue:ws/default", "queue:ws/default", true},
		{"queue:ws/default", "queue:ws/default", true},
	} {
		topic, ok := n.topicOf(c.payload)
		if ok != c.ok || (ok && topic != c.topic) {
			t.Errorf("topicOf(%q) = %q, %v; want %q, %v", c.payload, topic, ok, c.topic, c.ok)
		}
	}
}

// TestNotifierEchoWakesNoOne: replica A's notification reaches replica B
// but does not come back to A's own waiters: after B has seen A's topic and
// then notified another, which A hears after any echo of the first (one
// listener hears notifications in commit order), A's waiter for the first
// topic, subscribed after A's own Notify, has not been woken.
func TestNotifierEchoWakesNoOne(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	na := a.Notifier(ctx, slog.New(slog.DiscardHandler))
	nb := b.Notifier(ctx, slog.New(slog.DiscardHandler))
	topic := "queue:" + t.Name() + "/default"
	waitFor := func(from, to *Notifier, topic string) {
		deadline := time.After(10 * time.Second)
		for { // until to's LISTEN is up
			ch, done := to.Subscribe(topic)
			from.Notify(ctx, topic)
			select {
			case <-ch:
				done()
				return
			case <-deadline:
				t.Fatalf("%s was not delivered", topic)
			case <-time.After(50 * time.Millisecond):
			}
			done()
		}
	}
	// Both LISTENs up: B hears A, A hears B.
	waitFor(na, nb, topic+"-warm")
	waitFor(nb, na, topic+"-warm-back")

	echo, done := na.Subscribe(topic)
	defer done()
	seen, doneSeen := nb.Subscribe(topic)
	na.local.Notify(ctx, "unrelated") // nothing of topic locally after the subscription
	na.mu.Lock()
	na.pending[topic] = struct{}{} // what Notify queues for the other replicas
	na.mu.Unlock()
	na.kick <- struct{}{}
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("replica B did not hear A's topic")
	}
	doneSeen()
	after, doneAfter := na.Subscribe(topic + "-after")
	defer doneAfter()
	nb.Notify(ctx, topic+"-after")
	select {
	case <-after:
	case <-time.After(10 * time.Second):
		t.Fatal("replica A did not hear B's topic")
	}
	select {
	case <-echo:
		t.Error("replica A's own notification woke its waiter again")
	default:
	}
}
