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
	// Status, Queue and Label ("k=v") filter the list; "" matches all.
	Status string
	Queue  string
	Label  string
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
		Use:   "list [--status S] [--queue Q] [--label k=v] [--limit N] [--all]",
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
			if cmd.Flags().Changed("label") {
				if _, _, err := parseLabel("--label", opts.Label); err != nil {
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
	fl.StringVar(&opts.Label, "label", "", "only tasks with this label KEY=VALUE")
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
	lo := client.TaskListOptions{Status: opts.Status, Queue: opts.Queue, Label: opts.Label,
		ListOptions: client.ListOptions{Limit: opts.Limit}}
	tasks, more, err := cmdutil.CollectList(opts.All, c.AllTasks(ctx, lo),
		func() (api.List[api.Task], error) { return c.ListTasks(ctx, lo) })
	if err != nil {
		return err
	}
	defer f.HintMore(more, "task")
	now := f.Now()
	return p.Print(tasks, func(tf output.TimeFormatter) output.Table { return table(tasks, now, tf) })
}
