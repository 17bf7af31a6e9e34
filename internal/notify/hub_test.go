package notify

import (
	"context"
	"testing"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestNotifyWakesOnlyItsTopic(t *testing.T) {
	h := New()
	a, cancelA := h.Subscribe("queue:ws1/default")
	defer cancelA()
	b, cancelB := h.Subscribe("queue:ws2/default", "task:t1")
	defer cancelB()
	h.Notify(context.Background(), "queue:ws1/default")
	if !closed(a) {
		t.Error("the waiter of the notified topic did not wake")
	}
	if closed(b) {
		t.Error("a waiter of other topics woke")
	}
	if n := h.Waiting("queue:ws1/default"); n != 0 {
		t.Errorf("a woken waiter is still registered (%d)", n)
	}
	h.Notify(context.Background(), "task:t1")
	if !closed(b) {
		t.Error("a waiter of two topics did not wake on its second")
	}
	if h.Waiting("queue:ws2/default") != 0 {
		t.Error("a woken waiter stays registered under its other topic")
	}
}

func TestNotifyAllAndCancel(t *testing.T) {
	h := New()
	a, cancelA := h.Subscribe("x")
	b, cancelB := h.Subscribe("y")
	cancelB() // forgotten: never woken, never registered
	if h.Waiting("y") != 0 {
		t.Error("cancel left the waiter registered")
	}
	h.Notify(context.Background(), All)
	if !closed(a) {
		t.Error("All did not wake a waiter")
	}
	if closed(b) {
		t.Error("a cancelled subscription was woken")
	}
	cancelA() // after it fired: harmless
	// A notification before anyone waits is not kept: a waiter checks the
	// store after subscribing, so it misses nothing.
	h.Notify(context.Background(), "z")
	c, cancelC := h.Subscribe("z")
	defer cancelC()
	if closed(c) {
		t.Error("a subscription made after a notification was woken by it")
	}
}
