package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// WaitOptions are the inputs of `baton tasks wait`.
type WaitOptions struct {
	Factory *cmdutil.Factory
	ID      string
	// WaitTimeout bounds the wait (0: only the global --timeout).
	WaitTimeout time.Duration
}

// NewCmdWait returns `baton tasks wait ID`. runF replaces the run logic in
// tests (nil: runWait).
func NewCmdWait(f *cmdutil.Factory, runF func(context.Context, *WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "wait ID [--wait-timeout D]",
		Short: "Wait for a task to end and exit with its code",
		Long: `Follow a task until it ends, then print the finished task and exit with its
code: 0 succeeded, 10 failed, 11 cancelled, 12 terminated or timed out.

While waiting, state changes and log lines ([attempt] line) are printed on
standard error (not with -q); on a terminal a spinner shows the status, the
worker and the time waited, and when a retry is due. A warning says when no
worker has polled the task's queue in the last 30s (the task would wait
until one does). With
--wait-timeout the wait gives up after that long with exit 7; the task
keeps running.`,
		Example: `  baton tasks wait task_01jd… --wait-timeout 10m
  baton tasks wait task_01jd… -q -o json | jq .output`,
		Args:              cmdutil.ExactArgs(1, "task id"),
		ValidArgsFunction: completeIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.WaitTimeout < 0 {
				return cmdutil.FlagErrorf("--wait-timeout must be positive")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runWait(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.WaitTimeout, "wait-timeout", 0, "give up waiting after this long (exit 7; the task keeps running)")
	return cmd
}

// runWait waits for the task and prints it. Errors: cmdutil.ErrNotLoggedIn,
// the server's *APIError (not_found: exit 3), a cmdutil.ExitError with the
// task's code or exit 7 when ctx's deadline ended the wait.
func runWait(ctx context.Context, opts *WaitOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	ctx, cancel := waitDeadline(ctx, opts.WaitTimeout)
	defer cancel()
	t, err := c.GetTask(ctx, opts.ID)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return timedOut("waiting for", opts.ID)
		}
		return err
	}
	if !api.IsTerminal(t.Status) {
		f.Infof("Waiting for task %s (%s)…", t.ID, t.Status)
	}
	return waitAndPrint(ctx, f, p, c, t)
}

// waitAndPrint follows t until it ends (unless it already has), prints the
// finished task and returns the exit error of its status (nil for
// succeeded).
func waitAndPrint(ctx context.Context, f *cmdutil.Factory, p *output.Printer, c *client.Client, t api.Task) error {
	if !api.IsTerminal(t.Status) {
		var err error
		if t, err = follow(ctx, f, c, t); err != nil {
			return err
		}
	}
	now := f.Now()
	if err := p.PrintObject(t, func(tf output.TimeFormatter) [][2]string { return fields(t, now, tf) }); err != nil {
		return err
	}
	code := exitCodeFor(t.Status)
	switch {
	case t.Status == api.TaskSucceeded:
		f.Infof("Task %s succeeded in %s.", t.ID, orDash(true, elapsed(t, now)))
		return nil
	case t.Error != "":
		f.Infof("Task %s %s: %s", t.ID, t.Status, t.Error)
	case t.StatusReason != "":
		f.Infof("Task %s %s: %s", t.ID, t.Status, t.StatusReason)
	default:
		f.Infof("Task %s %s.", t.ID, t.Status)
	}
	return &cmdutil.ExitError{Code: code}
}

// follow streams the events of task id until it ends, showing them as
// progress on stderr (see progress), and returns the finished task.
// Errors: exit 7 when ctx's deadline ends the wait, the server's *APIError,
// ctx's error (interrupted).
func follow(ctx context.Context, f *cmdutil.Factory, c *client.Client, t api.Task) (api.Task, error) {
	id := t.ID
	pr := newProgress(f, id)
	pr.status = t.Status
	pr.spin()
	watchCtx, stopWatch := context.WithCancel(ctx)
	tick := time.NewTicker(pollerRecheck)
	watched := make(chan struct{})
	go func() { defer close(watched); pr.watchPollers(watchCtx, c, t.Queue, tick.C) }()
	final, err := c.FollowTaskEventsNotify(ctx, id, 0, func(ev api.TaskEvent) error {
		return pr.event(ctx, c, ev)
	}, pr.dropped)
	stopWatch()
	tick.Stop()
	<-watched
	pr.stop()
	if err == nil {
		var t api.Task
		if t, err = c.GetTask(ctx, id); err == nil {
			if !api.IsTerminal(t.Status) && api.IsTerminal(final) {
				t.Status = final // a replica that has not caught up yet
			}
			return t, nil
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return api.Task{}, timedOut("waiting for", id)
	}
	return api.Task{}, err
}

// eventLine is how a task event reads on a terminal or in a log: a log line
// prefixed with its attempt ("[2] text"), a stream line with its channel
// ("[tokens] text"; with its attempt when it has no channel), a state
// change marked with "==>" ("==> queued (attempt 1): retrying: exit status 1").
func eventLine(ev api.TaskEvent) string {
	if ev.Type == api.EventStream && ev.Channel != "" {
		return fmt.Sprintf("[%s] %s", ev.Channel, ev.Message)
	}
	if ev.Type == api.EventLog || ev.Type == api.EventStream {
		return fmt.Sprintf("[%d] %s", ev.Attempt, ev.Message)
	}
	s := "==> " + ev.Status
	if ev.Type != api.EventState {
		s = "==> " + ev.Type + " " + ev.Status
	}
	if ev.Attempt > 0 {
		s += fmt.Sprintf(" (attempt %d)", ev.Attempt)
	}
	if ev.Message != "" {
		s += ": " + ev.Message
	}
	return s
}

// waitDeadline bounds ctx by d when d > 0.
func waitDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}
