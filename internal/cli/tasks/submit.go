package tasks

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// SubmitOptions are the inputs of `baton tasks submit`.
type SubmitOptions struct {
	Factory *cmdutil.Factory
	// Request is the submit request built from the flags (input parsed and
	// compacted, timeout in seconds, labels).
	Request api.SubmitTaskRequest
	// MaxCostUSD is --max-cost-usd (the budget, in USD).
	MaxCostUSD string
	// IdempotencyKey is --idempotency-key; "" makes one at run time.
	IdempotencyKey string
	// Wait follows the task until it ends.
	Wait bool
	// WaitTimeout bounds --wait (0: no bound but the global one).
	WaitTimeout time.Duration

	// The raw flag values.
	InputArg   string
	RunTimeout string
	Labels     []string
}

// NewCmdSubmit returns `baton tasks submit`. runF replaces the run logic in
// tests (nil: runSubmit).
func NewCmdSubmit(f *cmdutil.Factory, runF func(context.Context, *SubmitOptions) error) *cobra.Command {
	opts := &SubmitOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "submit [--queue Q] [--input JSON|@FILE|-] [--priority N] [--run-timeout 10m] [--max-attempts N] [--label k=v]... [--idempotency-key K] [--wait [--wait-timeout D]]",
		Short: "Submit a task",
		Long: `Submit a task to a queue and print it.

--input is the task's input, a JSON object: inline ('{"prompt": "hi"}'),
@FILE to read a file, or - to read standard input. Its compacted JSON may
be at most 256 KiB.

Every submit carries an idempotency key: a retried submit with the same key
and the same parameters returns the task the first one made instead of a
second task (the same key with other parameters is a conflict, exit 1).
Without --idempotency-key a random key is made and printed on standard
error ("idempotency key: cli-…"), so a script can retry with it.

--run-timeout is the task's own time limit (e.g. 10m, 2h, 1d; the tier's
maximum duration caps it and applies without it; a value above that maximum
is warned about). --wait-timeout bounds --wait. The old spelling --timeout
still sets the task's limit, with a deprecation notice; on this command the
global --timeout (one HTTP request) is therefore not available.

--wait follows the task until it ends, printing state changes and log lines
on standard error (not with -q), then prints the finished task and exits with
its code: 0 succeeded, 10 failed, 11 cancelled, 12 terminated or timed out,
and 7 when --wait-timeout ended the wait (the task keeps running).`,
		Example: `  baton tasks submit --input '{"prompt": "Summarise the report"}'
  baton tasks submit --queue email --input @task.json --label env=prod --run-timeout 10m
  jq -n '{prompt: "hi"}' | baton tasks submit --input - --wait -o json | jq .output`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.build(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSubmit(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Request.Queue, "queue", "", "queue to submit to (default \"default\")")
	fl.StringVar(&opts.InputArg, "input", "", "input as a JSON object: inline JSON, @FILE, or - for stdin")
	fl.IntVar(&opts.Request.Priority, "priority", 0, "priority: higher runs first within the workspace")
	fl.StringVar(&opts.RunTimeout, "run-timeout", "", "the task's time limit, e.g. 10m or 2h (default: the tier's maximum)")
	fl.StringVar(&opts.RunTimeout, "timeout", "", "the task's time limit (deprecated: use --run-timeout)")
	// Not MarkDeprecated: cobra prints its notice on the command's output,
	// stdout here, where it would spoil -o json.
	_ = fl.MarkHidden("timeout")
	fl.IntVar(&opts.Request.MaxAttempts, "max-attempts", 0, "attempts before the task fails (default 3)")
	fl.StringVar(&opts.MaxCostUSD, "max-cost-usd", "", "the task's budget in USD, its children included, e.g. 0.50 (at the limit it waits)")
	fl.StringArrayVar(&opts.Labels, "label", nil, "label KEY=VALUE (repeatable)")
	fl.StringVar(&opts.IdempotencyKey, "idempotency-key", "", "idempotency key (default: a random one, printed on stderr)")
	fl.BoolVar(&opts.Wait, "wait", false, "wait for the task to end and exit with its code")
	fl.DurationVar(&opts.WaitTimeout, "wait-timeout", 0, "with --wait, give up waiting after this long (exit 7)")
	_ = cmd.RegisterFlagCompletionFunc("queue", noCompletion)
	_ = cmd.RegisterFlagCompletionFunc("run-timeout", cobra.FixedCompletions([]string{"5m", "10m", "1h", "6h"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("label", noCompletion)
	return cmd
}

// build checks the flags and fills opts.Request; it reads the input (from a
// file or stdin) now, so that bad input fails before any request. Errors:
// FlagError.
func (opts *SubmitOptions) build(cmd *cobra.Command) error {
	fl := cmd.Flags()
	if fl.Changed("input") {
		in, err := readInput(opts.InputArg, opts.Factory.IOStreams.In)
		if err != nil {
			return err
		}
		opts.Request.Input = in
	}
	if fl.Changed("queue") && opts.Request.Queue == "" {
		return cmdutil.FlagErrorf("--queue must not be empty")
	}
	if fl.Changed("run-timeout") && fl.Changed("timeout") {
		return cmdutil.FlagErrorf("--timeout is the old name of --run-timeout: give one of them")
	}
	if fl.Changed("timeout") {
		opts.Factory.Warnf("--timeout on tasks submit is deprecated: use --run-timeout for the task's limit (the global --timeout is the HTTP request timeout)")
	}
	if fl.Changed("run-timeout") || fl.Changed("timeout") {
		s, err := timeoutSeconds(opts.RunTimeout)
		if err != nil {
			return err
		}
		opts.Request.TimeoutSeconds = s
	}
	if fl.Changed("max-cost-usd") {
		m, err := parseUSD("--max-cost-usd", opts.MaxCostUSD)
		if err != nil {
			return err
		}
		opts.Request.MaxCostMicros = m
	}
	if fl.Changed("max-attempts") && opts.Request.MaxAttempts < 1 {
		return cmdutil.FlagErrorf("--max-attempts must be at least 1, not %d", opts.Request.MaxAttempts)
	}
	l, err := parseLabels(opts.Labels)
	if err != nil {
		return err
	}
	opts.Request.Labels = l
	if fl.Changed("idempotency-key") && opts.IdempotencyKey == "" {
		return cmdutil.FlagErrorf("--idempotency-key must not be empty")
	}
	if opts.WaitTimeout < 0 || (opts.WaitTimeout > 0 && !opts.Wait) {
		return cmdutil.FlagErrorf("--wait-timeout needs --wait and a positive duration")
	}
	return nil
}

// runSubmit submits the task and prints it, or with --wait follows it and
// prints the finished task. Errors: cmdutil.ErrNotLoggedIn, the server's
// *APIError (validation_failed, conflict for a reused key, quota_exceeded:
// exit 6, …), and with --wait a cmdutil.ExitError with the task's code or 7.
func runSubmit(ctx context.Context, opts *SubmitOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	key := opts.IdempotencyKey
	if key == "" {
		key = newIdempotencyKey()
		f.Infof("idempotency key: %s", key)
	}
	if opts.Request.TimeoutSeconds > 0 {
		warnAboveTierMaximum(ctx, f, c, opts.Request.TimeoutSeconds)
	}
	t, err := c.SubmitTask(ctx, opts.Request, key)
	if err != nil {
		return err
	}
	f.Infof("Submitted task %s to queue %s.", t.ID, t.Queue)
	if opts.Wait {
		ctx, cancel := waitDeadline(ctx, opts.WaitTimeout)
		defer cancel()
		return waitAndPrint(ctx, f, p, c, t)
	}
	now := f.Now()
	return p.PrintObject(t, func(tf output.TimeFormatter) [][2]string { return fields(t, now, tf) })
}

// warnAboveTierMaximum says on stderr when the task's --run-timeout is more
// than the workspace's tier allows (the server caps it silently). It asks
// GET /v1/me; when that fails it says nothing and the submit goes on.
func warnAboveTierMaximum(ctx context.Context, f *cmdutil.Factory, c *client.Client, seconds int64) {
	me, err := c.Me(ctx)
	if err != nil || me.Tier == nil || me.Tier.Limits.MaxTaskDurationSeconds <= 0 {
		return
	}
	if limit := me.Tier.Limits.MaxTaskDurationSeconds; seconds > limit {
		f.Warnf("--run-timeout %s is above the %s tier's maximum of %s: the task stops at %s",
			duration(time.Duration(seconds)*time.Second), me.Tier.Name,
			duration(time.Duration(limit)*time.Second), duration(time.Duration(limit)*time.Second))
	}
}
