package tasks

import (
	"context"

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

--status is one of queued, running, succeeded, failed, cancelled,
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
			if runF != nil {
				return runF(cmd.Context(), opts)
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
