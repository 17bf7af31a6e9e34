package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// thief is an agent that tries what a process can do to read its worker's
// key: the worker's environment and command line in /proc, and the CLI
// config where tools look for it (HOME, XDG_CONFIG_HOME). It prints what
// worked, and whether it could read the worker's command line at all.
const thief = `key="$(cat "$1")"; got=""
tr '\0' '\n' < /proc/$PPID/environ 2>/dev/null | grep -qF "$key" && got="$got environ"
tr '\0' '\n' < /proc/$PPID/cmdline | grep -qF "$key" && got="$got cmdline"
grep -rqsF "$key" "$HOME" "${XDG_CONFIG_HOME:-$HOME/.config}" && got="$got config"
grep -q worker /proc/$PPID/cmdline && seen=yes || seen=no
echo "{\"stolen\":\"$got\",\"saw_worker\":\"$seen\"}"`

// A shared worker holding the operator key, given on the command line
// (--api-key) or in its environment, with the key also in its CLI config
// file: its agents get none of it. Run as root, agents run as nobody
// (--run-as), since root reads every process; otherwise as the worker's
// own user.
func TestAgentsCannotStealTheWorkersKey(t *testing.T) {
	cl := newCluster(t, "")
	addr := freePort(t)
	cl.server("server", addr)
	tenant, _ := cl.tenant(addr, "victim")

	cfgHome := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfgHome, "baton"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgHome, "baton", "config.yaml"),
		[]byte("current_profile: default\nprofiles:\n  default:\n    api_key: "+cl.admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var flags []string
	if os.Geteuid() == 0 {
		flags = []string{"--run-as", "nobody"}
	}
	dir, err := os.MkdirTemp("", "baton-thief-") // t.TempDir's parent is closed to nobody
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script := filepath.Join(dir, "thief.sh")
	if err := os.WriteFile(script, []byte(thief), 0o755); err != nil {
		t.Fatal(err)
	}
	// What to look for, kept off the worker's command line.
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte(cl.admin), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"flag", "env"} {
		t.Run(how, func(t *testing.T) {
			env := append(cl.env, "BATON_SERVER=http://"+addr, "XDG_CONFIG_HOME="+cfgHome, "HOME="+filepath.Dir(cfgHome))
			args := []string{"worker", "run", "--worker-id", "shared-" + how, "--queue", how, "--kill-grace", "1s", "--drain-timeout", "2s"}
			if how == "flag" {
				args = append([]string{"--api-key", cl.admin}, args...)
			} else {
				env = append(env, "BATON_API_KEY="+cl.admin)
			}
			args = append(append(args, flags...), "--", "sh", script, keyFile)
			w := start(t, "worker-"+how, env, cl.bin, args...)
			task, err := tenant.SubmitTask(context.Background(), api.SubmitTaskRequest{Queue: how}, "theft-"+how)
			if err != nil {
				t.Fatal(err)
			}
			var done api.Task
			testutil.Eventually(t, 30*time.Second, "the thief's task to finish", func() bool {
				done, err = tenant.GetTask(context.Background(), task.ID)
				return err == nil && api.IsTerminal(done.Status)
			})
			if done.Status != api.TaskSucceeded || string(done.Output) != `{"stolen":"","saw_worker":"yes"}` {
				t.Fatalf("task %s: %s %s; worker log:\n%s", done.Status, done.Output, done.Error, tail(w.out.String(), 2000))
			}
			if how == "flag" && !strings.Contains(w.out.String(), "--api-key puts the key on the command line") {
				t.Errorf("no warning about --api-key:\n%s", tail(w.out.String(), 2000))
			}
		})
	}
}
