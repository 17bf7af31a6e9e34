package devcmd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/agent/agenttest"
)

// runDemo runs one attempt of the demo agent against fake.
func runDemo(fake *agenttest.Fake, input string) (demoOutput, error) {
	return runDemoAgent(agent.WithClient(context.Background(), fake.Client()), strings.NewReader(input))
}

// The demo agent's decisions, against pkg/agent's fake endpoint: attempt 1
// runs fetch and draft and suspends at the approval; the next attempt
// replays them (nothing runs or is metered again) and then publishes, or
// does not when the approval says no or times out.
func TestDemoAgent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		signal  string // "" : the wait times out
		publish bool
	}{
		{"approved", `{"ok": true}`, true},
		{"approved without a verdict", `{}`, true},
		{"rejected", `{"ok": false}`, false},
		{"timed out", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := agenttest.New(t)
			if _, err := runDemo(fake, `{"topic": "Durable Agents!"}`); !errors.Is(err, agent.ErrSuspended) {
				t.Fatalf("attempt 1: %v, want suspended at the approval", err)
			}
			if got := fake.Keys(); !slices.Equal(got, []string{demoFetch, demoDraft, demoApproval}) {
				t.Fatalf("journal after attempt 1: %v", got)
			}
			if u := fake.Usage(); u.Tokens != 1500 || u.CostMicros != 3900 {
				t.Fatalf("attempt 1 usage %+v, want fetch's and draft's", u)
			}
			fake.NextAttempt()
			if tc.signal != "" {
				fake.Signal(DemoSignal, tc.signal)
			} else {
				fake.TimeOut(demoApproval)
			}
			out, err := runDemo(fake, `{"topic": "Durable Agents!"}`)
			if err != nil {
				t.Fatalf("attempt 2: %v", err)
			}
			if out.Published != tc.publish || (out.URL == "https://example.com/posts/durable-agents") != tc.publish {
				t.Fatalf("output %+v, want published %v", out, tc.publish)
			}
			if out.Draft != "A short piece on Durable Agents! from 2 sources." || len(out.Sources) != 2 {
				t.Fatalf("replayed values: %+v", out)
			}
			for _, k := range []string{demoFetch, demoDraft} {
				if s := fake.Step(k); s.Runs != 1 {
					t.Errorf("step %s ran %d times, want once", k, s.Runs)
				}
			}
			want := int64(0)
			if tc.publish {
				want = 100
			}
			if u := fake.Usage(); u.Tokens != want {
				t.Errorf("attempt 2 usage %+v, want %d tokens (only publish)", u, want)
			}
		})
	}
}

func TestDemoAgentInput(t *testing.T) {
	fake := agenttest.New(t)
	if _, err := runDemo(fake, `[1, 2]`); !agent.IsPermanent(err) || agent.ExitCode(err) != agent.ExitPermanent {
		t.Fatalf("bad input: %v, want a permanent failure (exit 78)", err)
	}
	// No input: a default topic.
	fake = agenttest.New(t)
	if _, err := runDemo(fake, ``); !errors.Is(err, agent.ErrSuspended) {
		t.Fatalf("no input: %v", err)
	}
	if s := fake.Step(demoDraft); s == nil || !strings.Contains(string(s.Output), "durable agents") {
		t.Fatalf("draft without input: %+v", s)
	}
	for in, want := range map[string]string{"x": "x", "Hello, World": "hello-world", "--": "post", "Ünïcode 2": "n-code-2"} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
