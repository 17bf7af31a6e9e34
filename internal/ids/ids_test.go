package ids

import (
	"testing"
	"time"
)

func TestNewIsOrderedAndValid(t *testing.T) {
	prev := ""
	for range 1000 {
		id := New(Task)
		if !Valid(Task, id) {
			t.Fatalf("Valid(%q) = false", id)
		}
		if id <= prev {
			t.Fatalf("ids not increasing: %q after %q", id, prev)
		}
		prev = id
	}
}

func TestNewAtOrdersByTime(t *testing.T) {
	a := NewAt(Key, time.Unix(1000, 0))
	b := NewAt(Key, time.Unix(2000, 0))
	if a >= b {
		t.Fatalf("%q should sort before %q", a, b)
	}
}

func TestValidRejects(t *testing.T) {
	for _, s := range []string{"", "ws_", "ws_abc", "key_" + New(Workspace)[3:], New(Workspace) + "x", "ws_zzzzzzzzzzzzzzzzzzzzzzzzzz"} {
		if Valid(Workspace, s) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
	}
}

// TestNewAtIncreasesPerMillisecondAcrossInterleaving: ids of one
// millisecond keep their order even with ids of other times made between
// them (tests with fake clocks, backdated events).
func TestNewAtIncreasesPerMillisecondAcrossInterleaving(t *testing.T) {
	a, b := time.Unix(1000, 0), time.Unix(5000, 0)
	prev := ""
	for range 1000 {
		id := NewAt(Task, a)
		NewAt(Task, b)
		NewAt(Task, time.Now())
		if id <= prev {
			t.Fatalf("%s after %s", id, prev)
		}
		prev = id
	}
}
