package stepcmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
)

// WaitOptions are the arguments of `baton step sleep`, `wait` and `spawn`.
type WaitOptions struct {
	Key      string
	Duration time.Duration // sleep
	Signal   string        // wait
	Timeout  time.Duration // wait
	Queue    string        // spawn
	Input    json.RawMessage
	Wait     bool
}

// stepCall sends one call and prints its outcome: plain is what the table
// format prints of the output. A suspend exits 75.
func stepCall(ctx context.Context, f *cmdutil.Factory, path string, req any, outcome func(agent.Answer) (json.RawMessage, error), plain func(json.RawMessage) []byte) error {
	c, err := client(f)
	if err != nil {
		return err
	}
	a, err := c.Call(ctx, path, req)
	if err != nil {
		return suspended(f, err)
	}
	out, err := outcome(a)
	if err != nil {
		return suspended(f, err)
	}
	return printResult(f, resultOf(a), plain(out))
}

func keyArg(opts *WaitOptions, args []string) error {
	opts.Key = args[0]
	return checkKey(opts.Key)
}

// NewCmdSleep returns `baton step sleep KEY DURATION`.
func NewCmdSleep(f *cmdutil.Factory, runF func(context.Context, *WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{}
	return &cobra.Command{
		Use:   "sleep KEY DURATION",
		Short: "Sleep durably: a later attempt does not sleep again",
		Long: `Sleep DURATION (e.g. 30s, 2h) as the step KEY. Up to 10s the command sleeps in
place and the step is recorded when it wakes; a longer sleep frees the worker:
the task waits until then (exit 75: exit too) and a later attempt replays
past the sleep. Prints nothing (-o json: the step).`,
		Example: `  baton step sleep cool-down 2m`,
		Args:    cmdutil.ExactArgs(2, "step KEY and DURATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := keyArg(opts, args); err != nil {
				return err
			}
			d, err := time.ParseDuration(args[1])
			if err != nil || d < 0 {
				return cmdutil.FlagErrorf("DURATION %q: want a duration ≥ 0 such as 90s or 2h", args[1])
			}
			opts.Duration = d
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return stepCall(cmd.Context(), f, agent.PathSleep, agent.SleepRequest{Key: opts.Key, DurationMS: d.Milliseconds()},
				agent.Outcome, func(json.RawMessage) []byte { return nil })
		},
	}
}

// NewCmdWait returns `baton step wait KEY SIGNAL [--timeout D]`.
func NewCmdWait(f *cmdutil.Factory, runF func(context.Context, *WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{}
	cmd := &cobra.Command{
		Use:   "wait KEY SIGNAL [--timeout D]",
		Short: "Wait for a signal, freeing the worker; print its data",
		Long: `Wait for the signal SIGNAL (` + "`baton tasks signal ID SIGNAL --data JSON`" + `) as the
step KEY and print its data (JSON, one line). A signal sent before the wait
answers at once. Otherwise the task waits without a worker (exit 75: exit
too) and a later attempt, started when the signal comes, replays to here and
prints it. With --timeout the wait ends without it: exit 7 (in that attempt
and every replay).`,
		Example: `  approval=$(baton step wait approve approve --timeout 24h)`,
		Args:    cmdutil.ExactArgs(2, "step KEY and SIGNAL name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := keyArg(opts, args); err != nil {
				return err
			}
			opts.Signal = args[1]
			if opts.Signal == "" || len(opts.Signal) > api.MaxSignalNameLen {
				return cmdutil.FlagErrorf("SIGNAL: 1 to %d characters", api.MaxSignalNameLen)
			}
			if opts.Timeout < 0 {
				return cmdutil.FlagErrorf("--timeout must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			secs := int64(opts.Timeout / time.Second)
			if opts.Timeout > 0 && secs == 0 {
				secs = 1
			}
			return stepCall(cmd.Context(), f, agent.PathWait, agent.WaitRequest{Key: opts.Key, Signal: opts.Signal, TimeoutSeconds: secs},
				func(a agent.Answer) (json.RawMessage, error) { return agent.WaitOutcome(a, opts.Signal) }, jsonLine)
		},
	}
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 0, "stop waiting after this long (whole seconds; 0: no limit), then exit 7")
	return cmd
}

// NewCmdSpawn returns `baton step spawn KEY [--queue Q] --input JSON [--wait]`.
func NewCmdSpawn(f *cmdutil.Factory, runF func(context.Context, *WaitOptions) error) *cobra.Command {
	opts := &WaitOptions{}
	var input string
	cmd := &cobra.Command{
		Use:   "spawn KEY [--queue Q] --input JSON [--wait]",
		Short: "Create a child task once; with --wait print its output",
		Long: `Create a child task (its budget counts toward this task's) as the step KEY,
once: a replay does not create it again. Without --wait it prints the
child's id. With --wait the task waits for the child without a worker (exit
75: exit too); a later attempt, started when the child ends, prints its
output (JSON, one line), or exits 78 when the child failed, was cancelled or
was terminated.`,
		Example: `  id=$(baton step spawn page-1 --queue ocr --input '{"page": 1}')
  summary=$(baton step spawn summarise --input @job.json --wait)`,
		Args: cmdutil.ExactArgs(1, "step KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := keyArg(opts, args); err != nil {
				return err
			}
			in, err := readJSON(input, f.IOStreams.In)
			if err != nil {
				return err
			}
			opts.Input = in
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			plain := jsonLine
			if !opts.Wait {
				plain = func(out json.RawMessage) []byte {
					var v struct {
						TaskID string `json:"task_id"`
					}
					if json.Unmarshal(out, &v) != nil || v.TaskID == "" {
						return jsonLine(out)
					}
					return []byte(v.TaskID + "\n")
				}
			}
			return stepCall(cmd.Context(), f, agent.PathSpawn, agent.SpawnRequest{Key: opts.Key, Queue: opts.Queue, Input: opts.Input, Wait: opts.Wait},
				agent.Outcome, plain)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Queue, "queue", "", "the child's queue (default: the default queue)")
	fl.StringVar(&input, "input", "", "the child's input as JSON: inline, @FILE, or - for stdin")
	fl.BoolVar(&opts.Wait, "wait", false, "wait for the child and print its output")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

// readJSON reads --input: inline, "@path" or "-" for stdin, compacted.
// Errors: FlagError.
func readJSON(arg string, stdin io.Reader) (json.RawMessage, error) {
	data := []byte(arg)
	var err error
	switch {
	case arg == "-":
		data, err = io.ReadAll(io.LimitReader(stdin, 4*api.MaxTaskInputBytes))
	case strings.HasPrefix(arg, "@"):
		data, err = os.ReadFile(arg[1:])
	}
	if err != nil {
		return nil, cmdutil.FlagErrorf("--input: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, bytes.TrimSpace(data)); err != nil {
		return nil, cmdutil.FlagErrorf("--input: not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}

// EmitOptions are `baton step emit`'s arguments.
type EmitOptions struct {
	Channel string
}

// maxEmitBatch is the most lines one emit call carries.
const maxEmitBatch = 500

// NewCmdEmit returns `baton step emit [CHANNEL]`.
func NewCmdEmit(f *cmdutil.Factory, runF func(context.Context, *EmitOptions) error) *cobra.Command {
	opts := &EmitOptions{}
	return &cobra.Command{
		Use:   "emit [CHANNEL]",
		Short: "Stream stdin's lines to the task's events (e.g. LLM tokens)",
		Long: `Send each line of standard input to the task's events as it comes, as stream
events on CHANNEL (at most 64 bytes, no spaces): ` + "`baton tasks logs -f`" + ` ("[CHANNEL] line"),
the events stream (event: stream) and ` + "`baton top`" + ` show them live. The lines count
toward the task's log budget. Prints nothing.`,
		Example: `  llm --stream "$prompt" | baton step emit tokens`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return cmdutil.FlagErrorf("too many arguments: %q\n\nUsage: %s", args[1:], cmd.UseLine())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Channel = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runEmit(cmd.Context(), f, opts)
		},
	}
}

// runEmit sends the lines read, in batches of what has arrived: a line is
// sent as soon as no more input is waiting (a token stream stays live).
func runEmit(ctx context.Context, f *cmdutil.Factory, opts *EmitOptions) error {
	c, err := client(f)
	if err != nil {
		return err
	}
	r := bufio.NewReaderSize(f.IOStreams.In, 64<<10)
	var batch []string
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			batch = append(batch, strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
		}
		if len(batch) > 0 && (err != nil || r.Buffered() == 0 || len(batch) >= maxEmitBatch) {
			if e := c.Emit(ctx, opts.Channel, batch...); e != nil {
				return suspended(f, e)
			}
			batch = batch[:0]
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fail(fmt.Errorf("read stdin: %w", err))
		}
	}
}
