package postgres

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"
)

// twoReplicas opens two stores on BATON_TEST_POSTGRES_URL, as two
// replicas would, closed when the test ends; it skips the test without it.
func twoReplicas(t *testing.T) (a, b *Store) {
	t.Helper()
	url := os.Getenv("BATON_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("BATON_TEST_POSTGRES_URL not set")
	}
	open := func() *Store {
		s, err := Open(t.Context(), url, 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open()
}

// TestAuthBusCrossesConnections: a PublishAuth on one store (replica A)
// reaches ListenAuth on another (replica B), after B said it listens.
func TestAuthBusCrossesConnections(t *testing.T) {
	a, b := twoReplicas(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got, connected := make(chan string, 16), make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.ListenAuth(ctx, slog.New(slog.DiscardHandler), func(m string) { got <- m }, func() { connected <- struct{}{} })
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("B never listened")
	}
	msg := "key:key_" + time.Now().Format("150405.000000000")
	if err := a.PublishAuth(ctx, msg); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-got:
			if m == msg { // other tests' messages share the channel
				cancel()
				<-done
				return
			}
		case <-deadline:
			t.Fatal("B did not get A's message within 5 s")
		}
	}
}
