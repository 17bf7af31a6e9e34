package tasks

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// ListOptions are the inputs of `baton tasks list`.
type ListOptions struct {
	Factory *cmdutil.Factory
	// Status and Queue filter the list ("" matches all); a task must carry
	// every label of Labels ("k=v").
	Status string
	Queue  string
	Labels []string
	// Limit is the page size, 1 to 100.
	Limit int
	// All fetches every page.
	All bool
	// Watch redraws the list every Interval on a terminal, Count times
	// (0: until Ctrl-C).
	Watch    bool
	Interval time.Duration
	Count    int
}

// NewCmdList returns `baton tasks list`. runF replaces the run logic in
// tests (nil: runList).
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "list [--status S] [--queue Q] [--label k=v]... [--limit N] [--all] [--watch]",
		Short: "List tasks, newest first",
		Long: `List the workspace's tasks, newest first: id, queue, status, attempt (of the
maximum), creation time, how long it ran (so far), and its cost in USD.
The first page of --limit tasks, or every page with --all (then --limit is
the page size). -o json prints a JSON array of task objects.

--watch redraws the list on the terminal every --interval (2s) until Ctrl-C
(or --count redraws), as watch(1) would; it needs a terminal.

--status is one of queued, running, waiting, succeeded, failed, cancelled,
timed_out, terminated.`,
		Example: `  baton tasks list --status running
  baton tasks list --queue email --label env=prod --all -o json | jq -r '.[].id'`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 1 || opts.Limit > 100 {
				return cmdutil.FlagErrorf("--limit must be between 1 and 100, not %d", opts.Limit)
			}
			if cmd.Flags().Changed("status") {
				if err := validStatus(opts.Status); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("queue") && opts.Queue == "" {
				return cmdutil.FlagErrorf("--queue must not be empty")
			}
			for _, l := range opts.Labels {
				if _, _, err := parseLabel("--label", l); err != nil {
					return err
				}
			}
			if opts.Watch && !f.IOStreams.IsStdoutTTY() {
				return cmdutil.FlagErrorf("--watch redraws a terminal: in a script poll `baton tasks list -o json`, or use `baton tasks wait`")
			}
			if opts.Interval <= 0 || opts.Count < 0 {
				return cmdutil.FlagErrorf("--interval must be positive and --count at least 0")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.Watch {
				return watchList(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Status, "status", "", "only tasks in this status")
	fl.StringVar(&opts.Queue, "queue", "", "only tasks of this queue")
	fl.StringArrayVar(&opts.Labels, "label", nil, "only tasks with this label KEY=VALUE (repeatable: every one must match)")
	fl.IntVar(&opts.Limit, "limit", 20, "tasks per page (1-100)")
	fl.BoolVar(&opts.All, "all", false, "list every task, fetching every page")
	fl.BoolVarP(&opts.Watch, "watch", "w", false, "redraw the list every --interval until Ctrl-C (a terminal only)")
	fl.DurationVar(&opts.Interval, "interval", 2*time.Second, "with --watch, how often to redraw")
	fl.IntVar(&opts.Count, "count", 0, "with --watch, stop after this many redraws (0: until Ctrl-C)")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(api.TaskStatuses, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("queue", noCompletion)
	_ = cmd.RegisterFlagCompletionFunc("label", noCompletion)
	return cmd
}

// runList prints the tasks. Errors: cmdutil.ErrNotLoggedIn, the server's
// *APIError (forbidden without tasks:read, invalid_request), printer errors.
func runList(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	tasks, more, err := listTasks(ctx, c, opts)
	if err != nil {
		return err
	}
	defer f.HintMore(more, "task")
	now := f.Now()
	return p.Print(tasks, func(tf output.TimeFormatter) output.Table { return table(tasks, now, tf) })
}

// watchList redraws the list every opts.Interval: the screen cleared, a
// header line with the time, then the table. It ends after opts.Count
// redraws (exit 0) or on Ctrl-C (exit 130, quietly).
func watchList(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		fmt.Fprint(f.IOStreams.Out, "\x1b[H\x1b[2J")
		fmt.Fprintf(f.IOStreams.Out, "Every %s: baton tasks list · %s · Ctrl-C to stop\n\n", output.Duration(opts.Interval), f.Now().Format(time.TimeOnly))
		if err := runList(ctx, opts); err != nil {
			return err
		}
		if opts.Count > 0 && n >= opts.Count {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// listTasks fetches the tasks opts asks for. With more than one --label the
// server is sent every label and the tasks are also filtered here (a server
// that matches only the first label still answers correctly), fetching
// pages until --limit tasks match.
func listTasks(ctx context.Context, c *client.Client, opts *ListOptions) ([]api.Task, bool, error) {
	lo := client.TaskListOptions{Status: opts.Status, Queue: opts.Queue, ListOptions: client.ListOptions{Limit: opts.Limit}}
	if len(opts.Labels) > 0 {
		lo.Label, lo.Labels = opts.Labels[0], opts.Labels[1:]
	}
	if len(opts.Labels) < 2 {
		return cmdutil.CollectList(opts.All, c.AllTasks(ctx, lo),
			func() (api.List[api.Task], error) { return c.ListTasks(ctx, lo) })
	}
	want, _ := parseLabels(opts.Labels) // checked by the flags
	tasks := []api.Task{}
	for t, err := range c.AllTasks(ctx, lo) {
		if err != nil {
			return nil, false, err
		}
		if !hasLabels(t, want) {
			continue
		}
		if !opts.All && len(tasks) == opts.Limit {
			return tasks, true, nil
		}
		tasks = append(tasks, t)
	}
	return tasks, false, nil
}

// hasLabels reports whether t carries every label of want.
func hasLabels(t api.Task, want map[string]string) bool {
	for k, v := range want {
		if got, ok := t.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
