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
