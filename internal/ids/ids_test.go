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
