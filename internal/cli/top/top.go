// Package top is `baton top`, the live usage monitor (internal/tui), and
// `baton usage watch`, the same data as one line per snapshot for scripts
// and CI logs — what `top` prints without a terminal.
package top

import (
	"context"
	"errors"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/tui"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// Options are the inputs of `baton top` and `baton usage watch`.
type Options struct {
	Factory *cmdutil.Factory
	// All shows every workspace (operator key).
	All bool
	// Interval is how often the quota is polled when the stream is
	// unavailable, and the admin list always.
	Interval time.Duration
	// Count stops after this many snapshots (0: never; watch only).
	Count int
	// Lines forces the line output even on a terminal (usage watch).
	Lines bool
}

// NewCmdTop returns `baton top`.
func NewCmdTop(f *cmdutil.Factory) *cobra.Command { return newCmdTop(f, nil) }

func newCmdTop(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "top [--all]",
		Short: "Watch usage against quota live",
		Long: `A live monitor of the workspace's usage against its quota: one gauge per
limit (executions, execution time, spend, API rate, concurrency, queued),
green below 80 %, amber from 80 %, red at 100 %, marked past it; a sparkline
of the selected gauge's recent rate and one of today's use by hour (from
GET /v1/usage, so it does not start empty); three task panes: running (and
recently finished) tasks with their attempt, duration, cost and (when the
terminal is wide enough) the worker of each running one; queued and held
tasks with their attempt, age and what they wait for; waiting tasks with
their attempt, age and what they wait for; then open alerts. It follows
GET /v1/usage/stream and falls back to polling; the header says live,
reconnecting or polling, and live again once the stream is back.

With --all (an operator key) it lists every workspace, closest to a limit
first; enter opens one, esc goes back.

Keys: ? help, q quit, tab next pane, up/down select, enter open the task
(attempts, workers, its latest events), l follow its logs, c cancel it (y to
confirm), / filter by id, queue, status, reason, worker or label, p pause,
esc back.

Without a terminal, or with -o jsonl, it prints one line per snapshot like
` + "`baton usage watch`" + `; -o json or -o yaml prints the current snapshot
as one document and exits.`,
		Example: `  baton top
  baton top --all
  baton top -o jsonl | jq -c '{at, max: [.metrics[].percent] | max}'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validate(opts); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "every workspace, closest to a limit first (operator key)")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "poll interval when the stream is unavailable (and of --all)")
	_ = cmd.RegisterFlagCompletionFunc("interval", cobra.NoFileCompletions)
	return cmd
}

// NewCmdWatch returns `baton usage watch`.
func NewCmdWatch(f *cmdutil.Factory) *cobra.Command { return newCmdWatch(f, nil) }

func newCmdWatch(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Factory: f, Lines: true}
	cmd := &cobra.Command{
		Use:   "watch [--all] [--count N]",
		Short: "Print a line per quota snapshot",
		Long: `Follow the workspace's quota and print one line per snapshot:

  2026-11-28T22:00:00Z ws_… executions 812/1000 81.2% exec-time 1200/3600s 33.3% spend $1.20/$5.00 24.0% api-rate 12/60 20.0% running 1/2 50.0% queued 3/100 3.0% state=live

or, with -o jsonl, one quota object per line (-o json or -o yaml prints the
current snapshot as one document and exits). Connection state changes go
to stderr. It runs until interrupted or --count snapshots (the global
--timeout bounds each request, not the watch).`,
		Example: `  baton usage watch
  baton usage watch -o jsonl --count 1
  baton usage watch --all --count 30`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validate(opts); err != nil {
				return err
			}
			if opts.Count < 0 {
				return cmdutil.FlagErrorf("--count must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "every workspace, one line each per poll (operator key)")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "poll interval when the stream is unavailable (and of --all)")
	cmd.Flags().IntVar(&opts.Count, "count", 0, "stop after this many snapshots, or polls of every workspace with --all (0: never)")
	_ = cmd.RegisterFlagCompletionFunc("interval", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("count", cobra.NoFileCompletions)
	return cmd
}

func validate(opts *Options) error {
	if opts.Interval < 100*time.Millisecond {
		return cmdutil.FlagErrorf("--interval must be at least 100ms, not %s", opts.Interval)
	}
	switch opts.Factory.Globals.Output {
	case "", "table", "json", "yaml", "jsonl":
		return nil
	}
	return cmdutil.FlagErrorf("-o %s is not supported here: use table (lines), jsonl (a document per snapshot), or json/yaml (one snapshot)", opts.Factory.Globals.Output)
}

// jsonLines reports whether -o asks for JSON lines.
func jsonLines(f *cmdutil.Factory) bool { return f.Globals.Output == "jsonl" }

// oneDocument reports whether -o asks for exactly one document (json,
// yaml): then the current snapshot is printed instead of a stream.
func oneDocument(f *cmdutil.Factory) bool {
	o := f.Globals.Output
	return o == "json" || o == "yaml"
}

// printOnce prints the current snapshot as one document: the workspace's
// quota, or with --all every workspace's, closest to a limit first.
func printOnce(ctx context.Context, opts *Options) error {
	p, c, err := opts.Factory.PrinterAndClient()
	if err != nil {
		return err
	}
	if opts.All {
		qs, err := c.AdminUsage(ctx)
		if err != nil {
			return err
		}
		if qs == nil {
			qs = []api.Quota{}
		}
		return p.Print(qs, nil)
	}
	q, err := c.Quota(ctx)
	if err != nil {
		return err
	}
	return p.Print(q, nil)
}

// run starts the TUI on a terminal, else prints lines. Errors:
// cmdutil.ErrNotLoggedIn, the watch's fatal *client.APIError
// (unauthenticated, forbidden), context.Canceled when interrupted.
func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	if oneDocument(f) {
		return printOnce(ctx, opts)
	}
	r, err := f.Resolved()
	if err != nil {
		return err
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	ios := f.IOStreams
	// A few polls, then the stream again: the header says "live" again
	// within seconds of the stream's return, not a minute later.
	wo := client.WatchOptions{PollInterval: opts.Interval, PollRounds: 3}
	if !opts.Lines && !jsonLines(f) && ios.IsStdoutTTY() && ios.IsStdinTTY() {
		src := &tui.ClientSource{Client: c, WatchOptions: wo,
			ForWorkspace: func(id string) (*client.Client, error) { return f.ClientFor(r.Server, r.APIKey, id) }}
		return runTUI(ctx, opts, src, r.Server, r.Profile)
	}

	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	var updates <-chan client.QuotaUpdate
	switch {
	case opts.All:
		updates = pollAll(wctx, c, opts.Interval, opts.Count) // --count counts polls
	case opts.Count > 0:
		updates = limit(wctx, c.WatchQuota(wctx, wo), opts.Count, stopWatch)
	default:
		updates = c.WatchQuota(wctx, wo)
	}
	lo := tui.LineOptions{JSON: jsonLines(f)}
	if !f.Globals.Quiet {
		lo.Status = ios.ErrOut
	}
	err = tui.WriteLines(updates, ios.Out, lo)
	if err == nil && errors.Is(ctx.Err(), context.Canceled) {
		return context.Canceled // interrupted (exit 130)
	}
	return err
}

// runTUI runs the monitor on the alternate screen until q or ctx ends.
func runTUI(ctx context.Context, opts *Options, src tui.Source, server, profile string) error {
	ios := opts.Factory.IOStreams
	rend := lipgloss.NewRenderer(ios.Out)
	if !ios.ColorEnabled() {
		rend.SetColorProfile(termenv.Ascii)
	}
	m := tui.New(tui.Options{Source: src, Server: server, Profile: profile, Admin: opts.All, Renderer: rend})
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithContext(ctx), tea.WithInput(ios.In), tea.WithOutput(ios.Out))
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// limit passes on the updates of in until n snapshots went by, then stops
// the watch (and drains it until it closes).
func limit(ctx context.Context, in <-chan client.QuotaUpdate, n int, stop context.CancelFunc) <-chan client.QuotaUpdate {
	out := make(chan client.QuotaUpdate)
	go func() {
		defer close(out)
		defer func() {
			for range in {
			}
		}()
		seen := 0
		for u := range in {
			select {
			case out <- u:
			case <-ctx.Done():
				return
			}
			if u.Quota != nil {
				if seen++; seen == n {
					stop()
					return
				}
			}
		}
	}()
	return out
}

// pollAll reads every workspace's quota every interval, as updates (one
// per workspace and poll), until ctx ends, a read fails, or rounds polls
// are done (0: no end).
func pollAll(ctx context.Context, c *client.Client, interval time.Duration, rounds int) <-chan client.QuotaUpdate {
	out := make(chan client.QuotaUpdate)
	go func() {
		defer close(out)
		send := func(u client.QuotaUpdate) bool {
			select {
			case out <- u:
				return true
			case <-ctx.Done():
				return false
			}
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		for round := 1; ; round++ {
			qs, err := c.AdminUsage(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				send(client.QuotaUpdate{Err: err})
				return
			}
			for i := range qs {
				if !send(client.QuotaUpdate{Quota: &qs[i], State: client.WatchPolling}) {
					return
				}
			}
			if round == rounds {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return out
}
