// Package fleet is `baton workers list` and `baton queues list`: who polls
// for work and what waits for it. The server keeps the workers it has seen
// claim in the last minute (GET /v1/workers) and counts each queue's tasks
// per state (GET /v1/queues).
package fleet

import (
	"context"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// NewCmdWorkers returns the `baton workers` group.
func NewCmdWorkers(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workers <command>",
		Short: "See the workers polling for tasks",
	}
	cmd.AddCommand(NewCmdWorkersList(f, nil))
	return cmd
}

// NewCmdQueues returns the `baton queues` group.
func NewCmdQueues(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "queues <command>",
		Aliases: []string{"queue"},
		Short:   "See the queues: tasks per state and their pollers",
	}
	cmd.AddCommand(NewCmdQueuesList(f, nil))
	return cmd
}

// ListOptions are the inputs of `workers list` and `queues list`.
type ListOptions struct {
	Factory *cmdutil.Factory
}

// NewCmdWorkersList returns `baton workers list`. runF replaces the run
// logic in tests (nil: runWorkers).
func NewCmdWorkersList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List the workers seen polling in the last minute",
		Long: `List the workers (` + "`baton worker run`" + `) the server saw claim tasks in the
last minute: id, host, version, queues, tasks running of its concurrency,
and when it last polled. A worker that stops polling drops off the list
after a minute. With an operator key and no --workspace, every worker.`,
		Example: `  baton workers list
  baton workers list --jq '.[] | select(.queues | index("email")) | .id'`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runWorkers(cmd.Context(), opts)
		},
	}
}

func runWorkers(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	workers, err := c.ListWorkers(ctx)
	if err != nil {
		return err
	}
	if workers == nil {
		workers = []api.Worker{}
	}
	return p.Print(workers, func(tf output.TimeFormatter) output.Table { return WorkersTable(workers, tf) })
}

// WorkersTable is the tabular form of workers.
func WorkersTable(workers []api.Worker, tf output.TimeFormatter) output.Table {
	t := output.Table{Headers: []string{"id", "host", "version", "queues", "running", "last_seen"},
		Empty: "no worker has polled in the last minute: start one with `baton worker run -- CMD`"}
	for _, w := range workers {
		t.Rows = append(t.Rows, []string{w.ID, w.Host, w.Version, strings.Join(w.Queues, ","),
			strconv.Itoa(w.Running) + "/" + strconv.Itoa(w.Concurrency), tf.Time(w.LastSeenAt)})
	}
	return t
}

// NewCmdQueuesList returns `baton queues list`. runF replaces the run logic
// in tests (nil: runQueues).
func NewCmdQueuesList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List the queues with their tasks per state and pollers",
		Long: `List the workspace's queues: tasks queued (claimable now or later), held (a
quota is used up or the workspace is suspended), running and waiting (for a
timer, signal or budget), the age of the oldest queued task, and how many
workers polled the queue in the last minute. A queue with tasks and no
pollers is marked: nothing will run them.`,
		Example: `  baton queues list
  baton queues list --jq '.[] | select(.pollers == 0 and .queued > 0) | .name'`,
		Aliases: []string{"ls"},
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runQueues(cmd.Context(), opts)
		},
	}
}

func runQueues(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	queues, err := c.ListQueues(ctx)
	if err != nil {
		return err
	}
	if queues == nil {
		queues = []api.Queue{}
	}
	err = p.Print(queues, func(tf output.TimeFormatter) output.Table { return QueuesTable(queues, tf) })
	if err == nil && !p.Filtered() {
		for _, q := range queues {
			if q.Pollers == 0 && q.Queued > 0 {
				f.Warnf("no worker polls queue %s: its %d queued tasks will not run (start one with `baton worker run --queue %s -- CMD`)", q.Name, q.Queued, q.Name)
			}
		}
	}
	return err
}

// QueuesTable is the tabular form of queues. The oldest queued task's age
// is relative on a terminal ("5 minutes ago") and RFC 3339 when piped.
func QueuesTable(queues []api.Queue, tf output.TimeFormatter) output.Table {
	t := output.Table{Headers: []string{"name", "queued", "held", "running", "waiting", "oldest_queued", "pollers"},
		Empty: "no queues yet: a queue appears with its first task (`baton tasks submit --queue NAME`)"}
	for _, q := range queues {
		t.Rows = append(t.Rows, []string{q.Name, tf.Int(int64(q.Queued)), tf.Int(int64(q.Held)), tf.Int(int64(q.Running)),
			tf.Int(int64(q.Waiting)), tf.TimePtr(q.OldestQueuedAt), tf.Int(int64(q.Pollers))})
	}
	return t
}
