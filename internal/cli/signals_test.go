package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSecondInterruptExits (issue 16 row 9): the first signal cancels the
// context (a worker drains), the second exits 130 at once.
func TestSecondInterruptExits(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	var mu sync.Mutex
	var errOut bytes.Buffer
	exited := make(chan int, 1)
	ctx, stop := InterruptContext(context.Background(), sigs, &lockedWriter{mu: &mu, w: &errOut}, func(code int) { exited <- code })
	defer stop()

	sigs <- os.Interrupt
	<-ctx.Done()
	select {
	case code := <-exited:
		t.Fatalf("exit(%d) after one signal", code)
	default:
	}
	sigs <- os.Interrupt
	select {
	case code := <-exited:
		if code != 130 {
			t.Fatalf("exit(%d), want 130", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after a second signal")
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(errOut.String(), "interrupted again: exiting now") {
		t.Fatalf("stderr %q", errOut.String())
	}
}

// TestInterruptStopReleases: stop without a signal cancels and ends the
// watcher; a later signal does nothing.
func TestInterruptStopReleases(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	exited := make(chan int, 1)
	ctx, stop := InterruptContext(context.Background(), sigs, &bytes.Buffer{}, func(code int) { exited <- code })
	stop()
	<-ctx.Done()
	sigs <- os.Interrupt
	sigs <- os.Interrupt
	select {
	case code := <-exited:
		t.Fatalf("exit(%d) after stop", code)
	case <-time.After(50 * time.Millisecond):
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
