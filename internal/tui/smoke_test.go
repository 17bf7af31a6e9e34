package tui

import (
	"bytes"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/client"
)

// The program runs against a fake source: it shows a snapshot's numbers
// and quits on q, having stopped its watch.
func TestSmoke(t *testing.T) {
	src := newFakeSource()
	m := New(Options{Source: src, Server: "http://fake", Profile: "test", Renderer: asciiRenderer(), Tick: 50 * time.Millisecond})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))

	q := quotaAt(t0, 85)
	src.updates <- client.QuotaUpdate{Quota: &q, State: client.WatchLive}
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		return bytes.Contains(b, []byte("42,500 / 50,000")) && bytes.Contains(b, []byte("85.0%"))
	}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))

	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(Model)
	if final.quota == nil || final.quota.Metrics[0].Used != 42_500 {
		t.Fatalf("final quota %+v", final.quota)
	}
	// Quitting ends the watch's context (its goroutine returns).
	testutil.Eventually(t, 10*time.Second, "the watch is stopped on quit", func() bool {
		watches, stopped := src.counts()
		if watches != 1 {
			t.Fatalf("%d watches started, want 1", watches)
		}
		return stopped == 1
	})
}
