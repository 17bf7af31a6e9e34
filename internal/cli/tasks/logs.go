package tasks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// LogsOptions are the inputs of `baton tasks logs`.
type LogsOptions struct {
	Factory *cmdutil.Factory
	ID      string
	// Follow streams new events until the task ends.
	Follow bool
	// Timestamps prefixes each line with its time (default: on a terminal).
	Timestamps bool
}

// NewCmdLogs returns `baton tasks logs ID [-f]`. runF replaces the run logic
// in tests (nil: runLogs).
func NewCmdLogs(f *cmdutil.Factory, runF func(context.Context, *LogsOptions) error) *cobra.Command {
	opts := &LogsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "logs ID [-f] [--timestamps]",
		Short: "Print a task's log lines and state changes",
		Long: `Print a task's log lines, each prefixed with its attempt ("[2] text"), the
lines its agent streams (` + "`baton step emit CHANNEL`" + `), prefixed with their channel
("[tokens] text"), and its state changes, marked "==>" ("==> running
(attempt 2)"), on standard output.

With -f it keeps following until the task ends, then exits 0 whatever the
task's status (` + "`baton tasks wait`" + ` exits with the task's code). A dropped connection
is resumed where it stopped: every event is printed once, none is missed;
the reconnect is said once on standard error.

--timestamps (the default on a terminal; --timestamps=false turns it off)
starts each line with the event's time, RFC 3339 UTC with milliseconds.
With the global --timeout, following gives up after that long (exit 7).

-o json prints a JSON array of the events ({seq, type, status, channel,
attempt, message, at}; type is state, log, step or stream); -o jsonl prints
one event per line, as they come with -f.`,
		Example: `  baton tasks logs task_01jd…
  baton tasks logs task_01jd… -f
  baton tasks logs task_01jd… -f -o jsonl | jq -r 'select(.type == "log") .message'
  baton tasks logs task_01jd… -f -o jsonl | jq -r 'select(.channel == "tokens") .message'`,
		Args:              cmdutil.ExactArgs(1, "task id"),
		ValidArgsFunction: completeIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if !cmd.Flags().Changed("timestamps") {
				opts.Timestamps = f.IOStreams.IsStdoutTTY()
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLogs(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "follow new events until the task ends")
	cmd.Flags().BoolVar(&opts.Timestamps, "timestamps", false, "start each line with its time (default: on a terminal)")
	return cmd
}

// runLogs prints the task's events so far, or follows them. Errors:
// cmdutil.ErrNotLoggedIn, the server's *APIError (not_found: exit 3), exit 7
// when ctx's deadline ends -f, printer errors.
func runLogs(ctx context.Context, opts *LogsOptions) error {
	f := opts.Factory
	p, c, err := f.PrinterAndClient()
	if err != nil {
		return err
	}
	// The table and JSON lines forms stream; the others print one document
	// at the end.
	var events []api.TaskEvent
	stream := p.Format() == output.FormatTable || p.Format() == output.FormatJSONL
	if f.Globals.JQ != "" || f.Globals.Template != "" {
		stream = false // --jq and --template read the whole list
	} else if f.Globals.Quiet {
		// Log lines have no ids: -q keeps them and silences the rest.
		if p, err = f.PrinterWithoutFilter(); err != nil {
			return err
		}
	}
	emit := func(ev api.TaskEvent) error {
		switch {
		case !stream:
		case p.Format() == output.FormatTable:
			line := eventLine(ev)
			if opts.Timestamps {
				line = ev.At.UTC().Format(timestampLayout) + " " + line
			}
			if _, err := fmt.Fprintln(f.IOStreams.Out, line); err != nil {
				return fmt.Errorf("write output: %w", err)
			}
			return nil
		case p.Format() == output.FormatJSONL:
			return p.PrintObject(ev, nil)
		}
		events = append(events, ev)
		return nil
	}
	if opts.Follow {
		said := false
		_, err = c.FollowTaskEventsNotify(ctx, opts.ID, 0, func(ev api.TaskEvent) error {
			if said {
				f.Infof("… reconnected")
				said = false
			}
			return emit(ev)
		}, func(err error, wait time.Duration) {
			if !said {
				f.Infof("… event stream lost; reconnecting (every event is printed once)")
				said = true
			}
		})
		if errors.Is(err, context.DeadlineExceeded) {
			return timedOut("following", opts.ID)
		}
	} else {
		var all []api.TaskEvent
		if all, err = c.ListTaskEvents(ctx, opts.ID, 0); err == nil {
			for _, ev := range all {
				if err = emit(ev); err != nil {
					break
				}
			}
		}
	}
	if err != nil {
		return err
	}
	if stream {
		return nil
	}
	if events == nil {
		events = []api.TaskEvent{}
	}
	return p.Print(events, func(tf output.TimeFormatter) output.Table { return eventTable(events, tf) })
}

// timestampLayout is the time of a --timestamps line: RFC 3339 UTC with
// milliseconds, fixed width.
const timestampLayout = "2006-01-02T15:04:05.000Z07:00"

// eventTable is the tabular (CSV) form of task events.
func eventTable(events []api.TaskEvent, tf output.TimeFormatter) output.Table {
	t := output.Table{Headers: []string{"seq", "at", "type", "status", "attempt", "message", "channel"}}
	for _, ev := range events {
		t.Rows = append(t.Rows, []string{strconv.FormatInt(ev.Seq, 10), tf.Time(ev.At), ev.Type, ev.Status,
			strconv.Itoa(ev.Attempt), ev.Message, ev.Channel})
	}
	return t
}
