package postgres

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"
)

// TestNotifierCrossesConnections: a Notify from one store (replica A) wakes
// a waiter on another store's notifier (replica B).
func TestNotifierCrossesConnections(t *testing.T) {
	url := os.Getenv("BATON_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("BATON_TEST_POSTGRES_URL not set")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
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
