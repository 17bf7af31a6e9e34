package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/supervisor"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
	"github.com/genericcorp/baton/pkg/config"
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
	// InheritHome gives agents this worker's HOME and XDG directories.
	InheritHome bool
	// RunAs names the user agents run as (the worker running as root).
	RunAs string
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
  env     the worker's environment (without BATON_API_KEY, BATON_CONFIG
          and BATON_PROFILE) plus BATON_TASK_ID, BATON_ATTEMPT (1, 2, …),
          BATON_QUEUE, BATON_WORKSPACE_ID and BATON_AGENT_TAG (marks the
          attempt's processes); HOME and XDG_*_HOME point at an empty
          directory of the attempt's own, removed afterwards (unless
          --inherit-home)
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
It exits 0 after the drain.

Agents cannot read this worker's key: on Linux the worker is not dumpable
(other processes of its user cannot read /proc/PID/environ or its memory)
and agents get a home of their own. They still run as the worker's user,
so they can open any file that user can: keep the key out of files and
pass it in BATON_API_KEY (never --api-key, which every user sees in ps),
or run agents as another user with --run-as (docs/security.md).`,
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
	fl.BoolVar(&opts.InheritHome, "inherit-home", false, "give agents this worker's HOME and XDG directories (default: an empty one per attempt)")
	fl.StringVar(&opts.RunAs, "run-as", "", "run agents as this user (name or uid; the worker must run as root)")
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
	log := newLogger(f)
	if f.Globals.APIKey != "" {
		log.Warn("--api-key puts the key on the command line, which every user of this machine (agents included) can read in ps or /proc/PID/cmdline; pass it in BATON_API_KEY or with `baton login` instead")
		if err := reexecWithoutKey(f.Globals.APIKey, os.Args); err != nil {
			log.Warn("could not take the key off the command line", "err", err)
		}
	}
	if _, err := exec.LookPath(opts.Command[0]); err != nil {
		return cmdutil.FlagErrorf("agent command: %v", err)
	}
	agentUser, err := lookupAgentUser(opts.RunAs)
	if err != nil {
		return err
	}
	f.DialRetries = client.DefaultMaxRetries // a worker rides out a server restart
	c, err := f.Client()
	if err != nil {
		return err
	}
	cfg := supervisor.Config{
		API: c, Command: opts.Command, Queues: opts.Queues, Concurrency: opts.Concurrency, WorkerID: opts.WorkerID,
		HeartbeatInterval: opts.Heartbeat, KillGrace: opts.KillGrace, DrainTimeout: opts.DrainTimeout,
		Log: log, InheritHome: opts.InheritHome, AgentUser: agentUser,
	}
	if opts.AgentLogs {
		cfg.Stderr = f.IOStreams.ErrOut
	}
	return supervisor.Run(ctx, cfg)
}

// reexecWithoutKey takes a key given with --api-key off the command line
// (which every user can read in /proc/PID/cmdline) on Linux: the worker
// executes itself again, in the same process, with the key moved to
// BATON_API_KEY in its environment, which the worker, not dumpable, keeps
// from other processes. It returns only on failure, or with nil when argv
// holds no --api-key before "--" (elsewhere than Linux too).
func reexecWithoutKey(key string, argv []string) error {
	if runtime.GOOS != "linux" {
		return nil
	}
	stripped := withoutKeyFlag(argv)
	if len(stripped) == len(argv) {
		return nil
	}
	env := []string{config.EnvAPIKey + "=" + key}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvAPIKey+"=") {
			env = append(env, kv)
		}
	}
	return syscall.Exec("/proc/self/exe", stripped, env)
}

// withoutKeyFlag is argv without "--api-key KEY" and "--api-key=KEY"
// before the first "--" (the agent's own arguments are left alone).
func withoutKeyFlag(argv []string) []string {
	out := make([]string, 0, len(argv))
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "--":
			return append(out, argv[i:]...)
		case a == "--api-key":
			i++
		case strings.HasPrefix(a, "--api-key="):
		default:
			out = append(out, a)
		}
	}
	return out
}

// lookupAgentUser resolves --run-as (a user name or uid) to the user agents
// run as; nil when empty. Errors are FlagErrors: an unknown user, a worker
// that is not root (only root may start processes as another user),
// Windows.
func lookupAgentUser(name string) (*supervisor.AgentUser, error) {
	if name == "" {
		return nil, nil
	}
	if runtime.GOOS == "windows" {
		return nil, cmdutil.FlagErrorf("--run-as is not supported on Windows")
	}
	if os.Geteuid() != 0 {
		return nil, cmdutil.FlagErrorf("--run-as needs the worker to run as root (it runs as uid %d)", os.Geteuid())
	}
	u, err := user.Lookup(name)
	if err != nil {
		if u, err = user.LookupId(name); err != nil {
			return nil, cmdutil.FlagErrorf("--run-as: unknown user %q", name)
		}
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, cmdutil.FlagErrorf("--run-as: user %q has no numeric uid and gid", name)
	}
	if uid == 0 {
		return nil, cmdutil.FlagErrorf("--run-as: %q is root; name an unprivileged user", name)
	}
	au := &supervisor.AgentUser{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			au.Groups = append(au.Groups, uint32(n))
		}
	}
	return au, nil
}

// newLogger logs to stderr (see Factory.Logger: human lines on a
// terminal, JSON otherwise; BATON_LOG_FORMAT=json or text forces one);
// --debug adds debug lines, --quiet keeps warnings and errors only.
func newLogger(f *cmdutil.Factory) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case f.Globals.Debug:
		level = slog.LevelDebug
	case f.Globals.Quiet:
		level = slog.LevelWarn
	}
	return f.Logger(f.Getenv("BATON_LOG_FORMAT"), cmdutil.LogOptions{Level: level})
}
