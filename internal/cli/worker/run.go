package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/supervisor"
	"github.com/genericcorp/baton/pkg/api"
)

// maxConcurrency is the most tasks one worker runs at once (the server's
// max_tasks of a claim).
const maxConcurrency = 100

// RunOptions are the inputs of `baton worker run`.
type RunOptions struct {
	Factory *cmdutil.Factory
	// Command is the agent command line, after "--".
	Command      []string
	Queues       []string
	Concurrency  int
	WorkerID     string
	Heartbeat    time.Duration // 0: the server's interval
	KillGrace    time.Duration
	DrainTimeout time.Duration
	// AgentLogs also prints every agent stderr line on this worker's stderr.
	AgentLogs bool
}

// NewCmdRun returns `baton worker run -- CMD [ARG...]`. runF replaces the
// run logic in tests (nil: runRun).
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "run [--queue Q]... [--concurrency N] [flags] -- CMD [ARG...]",
		Short: "Claim tasks and run an agent command for each",
		Long: `Claim tasks from the server and run CMD once per task, up to --concurrency at
a time, until interrupted. The key needs the worker scope: a workspace key
runs that workspace's tasks; an operator key makes a shared worker that runs
every workspace's tasks.

The agent protocol, for each attempt of a task:

  stdin   the task's input (JSON), then end of file
  env     the worker's environment (without BATON_API_KEY) plus
          BATON_TASK_ID, BATON_ATTEMPT (1, 2, …), BATON_QUEUE and
          BATON_WORKSPACE_ID
  stdout  the task's output: stored as JSON when it parses as JSON, else
          as a JSON string of the trimmed text (empty: null); at most 1 MiB,
          more fails the attempt
  stderr  task logs, one line per entry (see ` + "`baton tasks logs ID -f`" + `); a line
            ::baton usage tokens=1200 cost_usd=0.0031
          reports usage the agent just spent (LLM tokens, API money), added
          to the attempt's totals and sent with the next heartbeat; either
          field may be left out; cost_usd is a decimal amount of dollars

Exit codes of CMD:

  0       the task succeeded; stdout is its output
  78      the task failed for good, not retried (EX_CONFIG: bad input)
  other   the attempt failed (also when killed by a signal); the server
          retries the task, with backoff, while attempts remain
          (--max-attempts of ` + "`baton tasks submit`" + `, default 3)

CMD runs in its own process group. When the server cancels the task (by
` + "`baton tasks cancel`" + `, its timeout, or the workspace's quota) or the worker loses
the lease, the whole group gets SIGTERM, then SIGKILL after --kill-grace;
such an attempt is not reported. Processes CMD leaves behind when it exits
are killed too. (On Windows there are no group signals: CMD itself is
killed at once, and processes it started are not reached.)

On SIGINT or SIGTERM the worker stops claiming at once and lets running
tasks finish for up to --drain-timeout; then it stops them as above and
reports them failed ("worker shutting down") so they are retried elsewhere.
It exits 0 after the drain.`,
		Example: `  baton worker run -- python3 agent.py
  baton worker run --queue email --queue default --concurrency 4 -- ./agent --model small
  baton worker run -- sh -c 'jq .prompt | llm'`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.parseArgs(cmd, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.FlagError{Err: err} })
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Queues, "queue", []string{api.DefaultQueue}, "queue to claim from (repeat or comma-separate for several)")
	fl.IntVar(&opts.Concurrency, "concurrency", 1, fmt.Sprintf("tasks to run at once (1-%d)", maxConcurrency))
	fl.StringVar(&opts.WorkerID, "worker-id", "", "name of this worker in claims (default HOSTNAME-PID-RANDOM)")
	fl.DurationVar(&opts.Heartbeat, "heartbeat", 0, "heartbeat interval (default: the server's, else 5s)")
	fl.DurationVar(&opts.KillGrace, "kill-grace", supervisor.DefaultKillGrace, "time between SIGTERM and SIGKILL of a stopped agent")
	fl.DurationVar(&opts.DrainTimeout, "drain-timeout", supervisor.DefaultDrainTimeout, "on shutdown, how long running tasks may finish")
	fl.BoolVar(&opts.AgentLogs, "agent-logs", false, "also print agents' stderr lines here, prefixed with the task id")
	return cmd
}

// parseArgs takes the command after "--" and checks the flags.
func (o *RunOptions) parseArgs(cmd *cobra.Command, args []string) error {
	usage := "\n\nUsage: " + cmd.UseLine()
	dash := cmd.ArgsLenAtDash()
	switch {
	case dash < 0 && len(args) > 0:
		return cmdutil.FlagErrorf("put the agent command after --: baton worker run -- %s%s", strings.Join(args, " "), usage)
	case dash > 0:
		return cmdutil.FlagErrorf("unexpected argument %q before --%s", args[0], usage)
	case len(args) == 0 || args[0] == "":
		return cmdutil.FlagErrorf("missing the agent command after --%s", usage)
	}
	o.Command = args
	var queues []string
	for _, q := range o.Queues {
		q = strings.TrimSpace(q)
		if q == "" {
			return cmdutil.FlagErrorf("--queue: empty queue name")
		}
		if !slices.Contains(queues, q) {
			queues = append(queues, q)
		}
	}
	if len(queues) == 0 {
		return cmdutil.FlagErrorf("--queue: empty queue name")
	}
	o.Queues = queues
	switch {
	case o.Concurrency < 1 || o.Concurrency > maxConcurrency:
		return cmdutil.FlagErrorf("--concurrency must be from 1 to %d, got %d", maxConcurrency, o.Concurrency)
	case o.Heartbeat < 0:
		return cmdutil.FlagErrorf("--heartbeat must not be negative")
	case o.KillGrace <= 0:
		return cmdutil.FlagErrorf("--kill-grace must be positive")
	case o.DrainTimeout <= 0:
		return cmdutil.FlagErrorf("--drain-timeout must be positive")
	case len(o.WorkerID) > 128:
		return cmdutil.FlagErrorf("--worker-id must be at most 128 characters")
	}
	return nil
}

// runRun runs the supervisor until ctx ends (SIGINT/SIGTERM), then drains.
// Errors: a FlagError for an agent command that is not found;
// cmdutil.ErrNotLoggedIn; a
// claim the server refuses for good (*client.APIError: unauthenticated,
// forbidden).
func runRun(ctx context.Context, opts *RunOptions) error {
	f := opts.Factory
	if _, err := exec.LookPath(opts.Command[0]); err != nil {
		return cmdutil.FlagErrorf("agent command: %v", err)
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	cfg := supervisor.Config{
		API: c, Command: opts.Command, Queues: opts.Queues, Concurrency: opts.Concurrency, WorkerID: opts.WorkerID,
		HeartbeatInterval: opts.Heartbeat, KillGrace: opts.KillGrace, DrainTimeout: opts.DrainTimeout,
		Log: newLogger(f),
	}
	if opts.AgentLogs {
		cfg.Stderr = f.IOStreams.ErrOut
	}
	return supervisor.Run(ctx, cfg)
}

// newLogger logs to stderr as text, or JSON with BATON_LOG_FORMAT=json;
// --debug adds debug lines, --quiet keeps warnings and errors only.
func newLogger(f *cmdutil.Factory) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case f.Globals.Debug:
		level = slog.LevelDebug
	case f.Globals.Quiet:
		level = slog.LevelWarn
	}
	ho := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(f.Getenv("BATON_LOG_FORMAT"), "json") {
		return slog.New(slog.NewJSONHandler(f.IOStreams.ErrOut, ho))
	}
	return slog.New(slog.NewTextHandler(f.IOStreams.ErrOut, ho))
}
