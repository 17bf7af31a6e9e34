package supervisor

import (
	"bytes"
	"context"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// stderrSync lets a step call wait until the agent's stderr is read up to
// now, so that a `::baton usage` line the agent printed before it called
// the step endpoint is charged to the step that was open when it printed
// it (CONTRACT "Steps, waits and signals"), not to the next one: the agent
// writes the line, then calls /end; the write is in the pipe before the
// call, but the reader goroutine may not have parsed it yet.
//
// The reader counts the newlines it has read from the pipe and the lines
// it has handled; stderr is caught up when the pipe holds no unread byte
// (FIONREAD; Linux only — elsewhere a step call does not wait) and every
// newline read is handled.
type stderrSync struct {
	f        *os.File // the pipe's read end; nil: nothing to wait for
	read     atomic.Int64
	handled  atomic.Int64
	mu       sync.Mutex
	progress chan struct{} // closed and replaced when a line is handled
}

func newStderrSync(f *os.File) *stderrSync {
	return &stderrSync{f: f, progress: make(chan struct{})}
}

// reader wraps r, counting the newlines read through it.
func (s *stderrSync) reader(r io.Reader) io.Reader {
	return readFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		s.read.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
		return n, err
	})
}

// lineHandled records that one line (one newline) was handled.
func (s *stderrSync) lineHandled() {
	s.handled.Add(1)
	s.mu.Lock()
	close(s.progress)
	s.progress = make(chan struct{})
	s.mu.Unlock()
}

// maxStderrWait bounds how long a step call waits for stderr: an agent
// flooding its stderr must not stall its own steps.
var maxStderrWait = 250 * time.Millisecond

// wait returns once stderr is caught up, ctx is done or maxStderrWait has
// passed.
func (s *stderrSync) wait(ctx context.Context) {
	if s == nil || s.f == nil {
		return
	}
	if testHookStderrWait != nil {
		testHookStderrWait()
	}
	deadline := time.NewTimer(maxStderrWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		progress := s.progress
		s.mu.Unlock()
		if s.caughtUp() {
			return
		}
		// A handled line, or a short tick for bytes the reader has not
		// yet taken from the pipe.
		tick := time.NewTimer(time.Millisecond)
		select {
		case <-progress:
		case <-tick.C:
		case <-deadline.C:
			tick.Stop()
			return
		case <-ctx.Done():
			tick.Stop()
			return
		}
		tick.Stop()
	}
}

func (s *stderrSync) caughtUp() bool {
	n, ok := unreadBytes(s.f)
	if !ok {
		return true // cannot tell here: do not wait
	}
	return n == 0 && s.handled.Load() >= s.read.Load()
}

// testHookStderrWait, when set (tests), runs as a step call starts waiting.
var testHookStderrWait func()

type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }
