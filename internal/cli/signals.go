package cli

import (
	"context"
	"fmt"
	"io"
	"os"
)

// InterruptContext returns a context cancelled by the first signal on sigs
// (Ctrl-C, SIGTERM): commands then stop cleanly, a worker drains. A second
// signal means "now": it says so on errOut and calls exit(130), so a drain
// or a hung request never holds the terminal hostage. stop releases the
// watcher.
func InterruptContext(parent context.Context, sigs <-chan os.Signal, errOut io.Writer, exit func(int)) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	done := make(chan struct{})
	stopped := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	go func() {
		select {
		case <-sigs:
			if stopped() {
				return
			}
			cancel()
		case <-done:
			return
		}
		select {
		case <-sigs:
			if stopped() {
				return // the command ended meanwhile: main exits with its code
			}
			fmt.Fprintln(errOut, "\ninterrupted again: exiting now without waiting")
			exit(130)
		case <-done:
		}
	}()
	return ctx, func() { close(done); cancel() }
}
