package supervisor

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genericcorp/baton/pkg/agent"
)

// TestUsageLinesCountInTheOpenStep: an agent prints a `::baton usage` line
// on stderr and at once ends its step; the supervisor's stderr reader has
// not parsed the line yet (here it is held back until the end call is on
// its way), and the end still carries the line's tokens: a step call waits
// until stderr is read up to it.
func TestUsageLinesCountInTheOpenStep(t *testing.T) {
	old := maxStderrWait
	maxStderrWait = time.Minute // the test releases the reader itself
	var written atomic.Bool
	var once sync.Once
	gate := make(chan struct{})
	// The reader starts only when the end call waits for it, after the
	// line is in the pipe: without the wait, the end goes out first.
	testHookStderrWait = func() {
		if written.Load() {
			once.Do(func() { close(gate) })
		}
	}
	t.Cleanup(func() { maxStderrWait, testHookStderrWait = old, nil })

	f := newStepFake()
	a, s := stepAttempt(t, f, nil)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	a.stderr = newStderrSync(r)
	done := make(chan struct{})
	go func() {
		<-gate
		a.readStderr(r)
		close(done)
	}()
	ctx := agent.WithClient(context.Background(), agent.NewClient(s.url, s.token, nil))

	ended := make(chan error, 1)
	go func() {
		_, err := agent.Run(ctx, "llm", func(context.Context) (string, error) {
			if _, err := w.WriteString(agent.UsagePrefix + " tokens=42 cost_usd=0.01\n"); err != nil {
				return "", err
			}
			written.Store(true)
			return "ok", nil
		})
		ended <- err
	}()
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	once.Do(func() { close(gate) }) // (a failing run: let the reader go)
	_, ends := f.calls()
	if len(ends) != 1 || ends[0].End.Usage == nil || ends[0].End.Usage.Tokens != 42 || ends[0].End.Usage.CostMicros != 10_000 {
		t.Fatalf("end = %+v; want the step's totals to hold the 42 tokens printed in it", ends)
	}
	w.Close()
	<-done
}
