package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// runCLI builds baton and times `baton version` and `baton tasks list -o
// json` (100 tasks, against a server on SQLite) with their peak RSS, beside
// `gh --version` when gh is installed.
func runCLI(ctx context.Context, o opts, r *report) error {
	dir, err := os.MkdirTemp("", "baton-bench-cli-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "baton")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/baton")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build baton: %v\n%s", err, out)
	}
	b, err := startBaton(ctx, "", nil)
	if err != nil {
		return err
	}
	defer b.close()
	c, ws, key, err := b.workspace(ctx, "cli", benchTier)
	if err != nil {
		return err
	}
	for range 100 {
		if _, err := c.SubmitTask(ctx, api.SubmitTaskRequest{Queue: "cli"}, ""); err != nil {
			return err
		}
	}
	env := append(os.Environ(), "BATON_SERVER="+b.url, "BATON_API_KEY="+key, "BATON_WORKSPACE="+ws,
		"BATON_CONFIG="+filepath.Join(dir, "none.yaml"), "HOME="+dir, "XDG_CONFIG_HOME="+dir, "NO_COLOR=1")
	type cmdSpec struct {
		name string
		argv []string
	}
	specs := []cmdSpec{{"baton version", []string{bin, "version"}}, {"baton tasks list -o json", []string{bin, "tasks", "list", "-o", "json"}}}
	gh, ghErr := exec.LookPath("gh")
	if ghErr == nil {
		specs = append(specs, cmdSpec{"gh --version", []string{gh, "--version"}})
	}
	// Go starts children with vfork, so a child's ru_maxrss starts at this
	// (large) process's RSS; GNU time forks for real and reports the
	// command's own peak.
	timeBin, _ := exec.LookPath("/usr/bin/time")
	t := table{header: []string{"command", "wall (median)", "peak RSS (median)"}}
	n := o.pick(3, 11)
	for _, s := range specs {
		var walls, rss []float64
		for range n {
			argv := s.argv
			rssFile := filepath.Join(dir, "rss")
			if timeBin != "" { // see below: the child's own peak, not the fork's
				argv = append([]string{timeBin, "-f", "%M", "-o", rssFile}, argv...)
			}
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			cmd.Env = env
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %v\n%s", s.name, err, out)
			}
			walls = append(walls, float64(time.Since(start)))
			if timeBin != "" {
				b, err := os.ReadFile(rssFile)
				if err != nil {
					return err
				}
				kb, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
				if err != nil {
					return fmt.Errorf("%s: peak RSS %q: %w", timeBin, b, err)
				}
				rss = append(rss, kb)
			} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = append(rss, float64(ru.Maxrss))
			}
		}
		t.add("`"+s.name+"`", ms(time.Duration(median(walls))), fmt.Sprintf("%.1f MiB", median(rss)/1024))
		r.headline = append(r.headline, fmt.Sprintf("%s: %s, %.1f MiB", s.name, ms(time.Duration(median(walls))), median(rss)/1024))
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "## CLI (`go run . %scli`)\n\n", o.flagText())
	fmt.Fprintf(&sb, "A `go build` of ./cmd/baton, %d runs each; `tasks list` lists 100 tasks from a server on SQLite on 127.0.0.1. Peak RSS is the command's own maximum resident set (GNU time's %%M; without /usr/bin/time the child's ru_maxrss, which vfork inflates to this process's size).", n)
	if ghErr != nil {
		sb.WriteString(" gh is not installed on this machine, so there is no gh row.")
	}
	sb.WriteString("\n\n" + t.String())
	noteErrors("cli", b.errors.n.Load())
	r.section("cli", sb.String())
	return nil
}
