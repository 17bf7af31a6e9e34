package tasks

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
)

// Durable steps (docs/steps.md): the journal, signals, retries and budget
// updates of a task.

// parseUSD reads a flag's amount of USD ("0.50") as micro-dollars, within
// the server's bounds. Errors: FlagError.
func parseUSD(flag, s string) (int64, error) {
	v, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(s), "$"), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v*1e6 > float64(api.MaxTaskCostMicros) {
		return 0, cmdutil.FlagErrorf("%s %q: want an amount of USD from 0 to %d, e.g. 0.50", flag, s, int64(api.MaxTaskCostMicros/1_000_000))
	}
	return int64(math.Round(v * 1e6)), nil
}

// NewCmdSteps returns `baton tasks steps ID`.
func NewCmdSteps(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "steps ID",
		Short: "Show a task's journal of durable steps",
		Long: `Show the task's journal: each step its program recorded (` + "`baton step`" + `,
pkg/agent, baton_agent.py) with its kind, status, how many times it ran, how
long, its tokens and cost, and what a waiting step waits for. -o json prints
the steps as the API returns them.`,
		Example:           `  baton tasks steps task_01jd…`,
		Args:              cmdutil.ExactArgs(1, "task id"),
		ValidArgsFunction: completeIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, c, err := f.PrinterAndClient()
			if err != nil {
				return err
			}
			steps, err := c.ListSteps(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return p.Print(steps, func(tf output.TimeFormatter) output.Table { return stepTable(steps, f.Now(), tf) })
		},
	}
}

func stepTable(steps []api.Step, now time.Time, tf output.TimeFormatter) output.Table {
	human := tf.TimePtr(nil) != ""
	t := output.Table{Headers: []string{"step", "kind", "status", "attempts", "started", "duration", "tokens", "cost_usd", "waits_for"},
		Flex: []string{"step", "waits_for"}, Drop: []string{"started", "waits_for"},
		Empty: "no steps yet: a task's program records them with `baton step` or pkg/agent"}
	for _, s := range steps {
		d := ""
		if s.FinishedAt != nil {
			d = duration(s.FinishedAt.Sub(s.StartedAt))
		} else if s.Status == api.StepRunning {
			d = duration(now.Sub(s.StartedAt))
		}
		wait := ""
		if w := s.Wait; w != nil && s.Status == api.StepWaiting {
			switch {
			case w.Signal != "":
				wait = "signal " + w.Signal
			case w.TaskID != "":
				wait = "task " + w.TaskID
			default:
				wait = w.Reason
			}
			if w.WakeAt != nil {
				wait += " until " + tf.Time(*w.WakeAt)
			}
		}
		t.Rows = append(t.Rows, []string{s.Key, s.Kind, s.Status, strconv.Itoa(s.Attempts), tf.Time(s.StartedAt),
			orDash(human, d), tf.Int(s.Usage.Tokens), usd(s.Usage.CostMicros), orDash(human, wait)})
	}
	return t
}

// NewCmdSignal returns `baton tasks signal ID NAME [--data JSON]`.
func NewCmdSignal(f *cmdutil.Factory) *cobra.Command {
	var data, key string
	cmd := &cobra.Command{
		Use:   "signal ID NAME",
		Short: "Send a signal to a task",
		Long: `Send the signal NAME, with --data (JSON: inline, @FILE or - for stdin; default
null), to a task. A task waiting for it (` + "`baton step wait KEY NAME`" + `) wakes and its
wait answers the data; a signal sent before the wait is kept for it. Each
signal is delivered once, in the order sent; --idempotency-key makes a
repeated send deliver nothing more. A task that has ended takes no signals
(exit 1).`,
		Example: `  baton tasks signal task_01jd… approve --data '{"ok": true}'`,
		Args:    cmdutil.ExactArgs(2, "task id and signal name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body []byte
			if cmd.Flags().Changed("data") {
				in, err := readJSON("--data", data, f.IOStreams.In)
				if err != nil {
					return err
				}
				body = in
			}
			p, c, err := f.PrinterAndClient()
			if err != nil {
				return err
			}
			sig, err := c.Signal(cmd.Context(), args[0], args[1], body, key)
			if err != nil {
				return err
			}
			if err := p.PrintObject(sig, func(tf output.TimeFormatter) [][2]string {
				return [][2]string{{"id", sig.ID}, {"task", sig.TaskID}, {"name", sig.Name},
					{"data", compactJSON(sig.Data)}, {"sent", tf.Time(sig.CreatedAt)}}
			}); err != nil {
				return err
			}
			f.Infof("Sent signal %s to task %s.", sig.Name, sig.TaskID)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "the signal's data as JSON: inline, @FILE, or - for stdin")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "deliver once per key (a repeat sends nothing more)")
	return cmd
}

// NewCmdRetry returns `baton tasks retry ID [--from-step KEY]`.
func NewCmdRetry(f *cmdutil.Factory) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "retry ID",
		Short: "Run a finished task again, keeping its journal",
		Long: `Queue a finished task (or one waiting for an operator after an at-most-once
step was in flight when its attempt died) again. Its journal is kept: the
next attempt replays the recorded steps without running them, and runs the
steps from --from-step on (and any step that was in flight) again. A task
that is queued, running or waiting for something else cannot be retried
(exit 1).`,
		Example: `  baton tasks retry task_01jd…
  baton tasks retry task_01jd… --from-step summarise`,
		Args:              cmdutil.ExactArgs(1, "task id"),
		ValidArgsFunction: completeIDs(f, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, c, err := f.PrinterAndClient()
			if err != nil {
				return err
			}
			t, err := c.RetryTask(cmd.Context(), args[0], api.RetryTaskRequest{FromStep: from})
			if err != nil {
				return err
			}
			now := f.Now()
			if err := p.PrintObject(t, func(tf output.TimeFormatter) [][2]string { return fields(t, now, tf) }); err != nil {
				return err
			}
			f.Infof("Queued task %s again.", t.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from-step", "", "run the steps from this journal key on again")
	return cmd
}

// NewCmdUpdate returns `baton tasks update ID [--max-cost-usd X] [--priority N]`.
func NewCmdUpdate(f *cmdutil.Factory) *cobra.Command {
	var (
		cost     string
		priority int
	)
	cmd := &cobra.Command{
		Use:   "update ID",
		Short: "Raise a task's budget or change its priority",
		Long: `Change a task that has not ended: --max-cost-usd sets its budget (its children
included; a task waiting for budget resumes from its journal), --priority
reorders it in its queue. Give at least one.`,
		Example:           `  baton tasks update task_01jd… --max-cost-usd 0.50`,
		Args:              cmdutil.ExactArgs(1, "task id"),
		ValidArgsFunction: completeIDs(f, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req api.UpdateTaskRequest
			fl := cmd.Flags()
			if fl.Changed("max-cost-usd") {
				m, err := parseUSD("--max-cost-usd", cost)
				if err != nil {
					return err
				}
				req.MaxCostMicros = &m
			}
			if fl.Changed("priority") {
				req.Priority = &priority
			}
			if req.MaxCostMicros == nil && req.Priority == nil {
				return cmdutil.FlagErrorf("give --max-cost-usd or --priority")
			}
			p, c, err := f.PrinterAndClient()
			if err != nil {
				return err
			}
			t, err := c.UpdateTask(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			now := f.Now()
			if err := p.PrintObject(t, func(tf output.TimeFormatter) [][2]string { return fields(t, now, tf) }); err != nil {
				return err
			}
			f.Infof("Updated task %s.", t.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&cost, "max-cost-usd", "", "the task's budget in USD, e.g. 0.50")
	cmd.Flags().IntVar(&priority, "priority", 0, "the task's priority: higher runs first")
	return cmd
}

// readJSON reads flag's value: any JSON value, inline, "@path" or "-" for
// stdin, at most api.MaxSignalDataBytes, compacted. Errors: FlagError.
func readJSON(flag, arg string, stdin io.Reader) (json.RawMessage, error) {
	data := []byte(arg)
	var err error
	switch {
	case arg == "-":
		data, err = io.ReadAll(io.LimitReader(stdin, 4*api.MaxSignalDataBytes))
	case strings.HasPrefix(arg, "@"):
		data, err = os.ReadFile(arg[1:])
	}
	if err != nil {
		return nil, cmdutil.FlagErrorf("%s: %v", flag, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, bytes.TrimSpace(data)); err != nil {
		return nil, cmdutil.FlagErrorf("%s: not valid JSON: %v", flag, err)
	}
	if buf.Len() > api.MaxSignalDataBytes {
		return nil, cmdutil.FlagErrorf("%s: %d bytes; the limit is %d", flag, buf.Len(), api.MaxSignalDataBytes)
	}
	return buf.Bytes(), nil
}
