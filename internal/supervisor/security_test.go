package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// Each attempt gets an empty home of its own, not the worker's, and none of
// the variables that point at the worker's CLI config; the home is removed
// afterwards. InheritHome keeps the worker's.
func TestAgentGetsAFreshHome(t *testing.T) {
	script := `printf '{"home":"%s","cfg":"%s","baton_config":"%s","files":"%s"}' "$HOME" "$XDG_CONFIG_HOME" "${BATON_CONFIG:-none}" "$(ls -A "$HOME")"`
	for _, inherit := range []bool{false, true} {
		f := newFake()
		start(t, f, script, func(c *Config) {
			c.Env = append(c.Env, "HOME=/home/worker", "XDG_CONFIG_HOME=/home/worker/.config", "BATON_CONFIG=/home/worker/baton.yaml")
			c.InheritHome = inherit
		})
		f.push(api.Task{ID: "task_1"})
		testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
		_, _, _, completes, fails := f.snapshot()
		if len(completes) != 1 {
			t.Fatalf("completes %+v, fails %+v", completes, fails)
		}
		var got struct {
			Home, Cfg, Files string
			BatonConfig      string `json:"baton_config"`
		}
		if err := json.Unmarshal(completes[0].Complete.Output, &got); err != nil {
			t.Fatal(err)
		}
		if got.BatonConfig != "none" {
			t.Errorf("BATON_CONFIG reached the agent: %+v", got)
		}
		if inherit {
			if got.Home != "/home/worker" || got.Cfg != "/home/worker/.config" {
				t.Errorf("InheritHome: %+v", got)
			}
			continue
		}
		if got.Home == "/home/worker" || !strings.Contains(got.Home, "baton-agent-") || got.Cfg != filepath.Join(got.Home, ".config") || got.Files != "" {
			t.Errorf("fresh home: %+v", got)
		}
		if exists(got.Home) {
			t.Errorf("the attempt's home %s is left behind", got.Home)
		}
	}
}

// An output no store can hold fails the attempt for good, with a clear
// error, instead of a completion the server refuses (work lost and rerun).
func TestUnstorableOutputFailsTheAttempt(t *testing.T) {
	deep := strings.Repeat("[", 600) + strings.Repeat("]", 600)
	f := newFake()
	h := start(t, f, `cat "$DIR/out"`, nil)
	if err := os.WriteFile(h.file("out"), []byte(deep), 0o600); err != nil {
		t.Fatal(err)
	}
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	_, _, _, completes, fails := f.snapshot()
	if len(completes) != 0 || len(fails) != 1 || fails[0].Fail.Retryable || !strings.Contains(fails[0].Fail.Error, "output cannot be stored") {
		t.Fatalf("completes %+v, fails %+v", completes, fails)
	}

	f = newFake()
	startRunner(t, f, func(context.Context, api.Task) (json.RawMessage, api.UsageReport, error) {
		return json.RawMessage("\"\xff\""), api.UsageReport{Tokens: 1 << 62}, nil
	})
	f.push(api.Task{ID: "task_2"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	_, _, _, completes, fails = f.snapshot()
	if len(completes) != 0 || len(fails) != 1 || fails[0].Fail.Retryable || !strings.Contains(fails[0].Fail.Error, "not valid UTF-8") {
		t.Fatalf("runner: completes %+v, fails %+v", completes, fails)
	}
	if u := fails[0].Fail.Usage; u == nil || u.Tokens != api.MaxUsageTokens {
		t.Errorf("usage is not capped at the server's bound: %+v", u)
	}
}

// Usage lines add up to at most the server's bound of a report.
func TestUsageSaturatesAtTheServersBound(t *testing.T) {
	f := newFake()
	start(t, f, `for i in 1 2 3; do echo "::baton usage tokens=9000000000000000000 cost_usd=90000" >&2; done`, nil)
	f.push(api.Task{ID: "task_1"})
	testutil.Eventually(t, 15*time.Second, "the task to finish", func() bool { return f.finished() == 1 })
	_, _, _, completes, _ := f.snapshot()
	if len(completes) != 1 {
		t.Fatal("not completed")
	}
	if u := completes[0].Complete.Usage; u == nil || *u != (api.UsageReport{Tokens: api.MaxUsageTokens, CostMicros: api.MaxUsageCostMicros}) {
		t.Errorf("usage = %+v", u)
	}
}

func startRunner(t *testing.T, f *fakeAPI, r Runner) *harness {
	return start(t, f, "", func(c *Config) { c.Runner, c.Command = r, nil })
}

// reaped reports whether pid is gone for good: not even a zombie.
func reaped(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }
