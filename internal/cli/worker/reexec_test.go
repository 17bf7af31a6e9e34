package worker

import (
	"slices"
	"testing"
)

func TestWithoutKeyFlag(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"baton", "--api-key", "bk_1", "worker", "run", "--", "sh"}, []string{"baton", "worker", "run", "--", "sh"}},
		{[]string{"baton", "worker", "run", "--api-key=bk_1", "-q", "--", "agent", "--api-key", "mine"}, []string{"baton", "worker", "run", "-q", "--", "agent", "--api-key", "mine"}},
		{[]string{"baton", "worker", "run", "--", "sh"}, []string{"baton", "worker", "run", "--", "sh"}},
	} {
		if got := withoutKeyFlag(c.in); !slices.Equal(got, c.want) {
			t.Errorf("withoutKeyFlag(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
