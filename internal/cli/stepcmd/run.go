package stepcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
)

// Environment of a step's command.
const (
	EnvStepKey             = "BATON_STEP_KEY"
	EnvStepIdempotencyKey  = "BATON_STEP_IDEMPOTENCY_KEY"
	EnvStepPreviousOutcome = "BATON_STEP_PREVIOUS_OUTCOME"
)

// RunOptions are `baton step run`'s arguments.
type RunOptions struct {
	Key        string
	Command    []string
	AtMostOnce bool
	InputHash  string
}

// NewCmdRun returns `baton step run KEY [--at-most-once] -- CMD [ARG...]`;
// runF replaces the run (flag tests).
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{}
	cmd := &cobra.Command{
		Use:   "run KEY [--at-most-once] -- CMD [ARG...]",
		Short: "Run a command once as a durable step; print its output",
		Long: `Run CMD as the step KEY, once: its standard output is recorded in the task's
journal and printed. In a later attempt the step is not run again: the
recorded output is printed instead (byte for byte; text that is not UTF-8 is
recorded with U+FFFD in its place).

CMD's stderr passes through, except its ` + "`::baton usage tokens=N cost_usd=X`" + ` lines,
which are charged to this step. CMD's environment adds BATON_STEP_KEY (the
journal's key: KEY, or KEY#2 … when KEY repeats in one attempt),
BATON_STEP_IDEMPOTENCY_KEY (the same in every attempt: pass it to the
providers the step calls) and BATON_STEP_PREVIOUS_OUTCOME ("unknown" when an
earlier attempt began the step and died in it).

CMD exiting 0 records its output; 78 records a failure (every replay then
exits 78); any other exit records nothing and is this command's exit: the
step runs again in the next attempt. With --at-most-once a step that was in
flight when its attempt died is not run again: the task waits for an
operator (` + "`baton tasks retry`" + ` or ` + "`cancel`" + `). --input-hash records a hash of the step's
input: a replay with another hash is refused (the program changed).`,
		Example: `  pages=$(baton step run fetch -- curl -sf https://example.com/doc)
  baton step run charge --at-most-once -- ./charge.sh "$amount"`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			switch {
			case len(args) == 0 || dash == 0:
				return cmdutil.FlagErrorf("missing the step's KEY\n\nUsage: %s", cmd.UseLine())
			case dash < 0:
				return cmdutil.FlagErrorf("put the step's command after --: baton step run %s -- CMD", args[0])
			case dash > 1:
				return cmdutil.FlagErrorf("too many arguments before --: %q\n\nUsage: %s", args[1:dash], cmd.UseLine())
			case len(args) == 1 || args[1] == "":
				return cmdutil.FlagErrorf("missing the command after --\n\nUsage: %s", cmd.UseLine())
			}
			opts.Key, opts.Command = args[0], args[1:]
			if err := checkKey(opts.Key); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.AtMostOnce, "at-most-once", false, "never run the step twice: if its attempt died in it, wait for an operator")
	cmd.Flags().StringVar(&opts.InputHash, "input-hash", "", "a hash of the step's input; a replay with another is refused")
	return cmd
}

// checkKey refuses a key the server would: empty, too long, or not
// printable. Errors: FlagError.
func checkKey(key string) error {
	if key == "" || len(key) > api.MaxStepKeyLen {
		return cmdutil.FlagErrorf("a step's KEY is 1 to %d characters, not %d", api.MaxStepKeyLen, len(key))
	}
	for _, r := range key {
		if r < ' ' || r == 0x7f {
			return cmdutil.FlagErrorf("step KEY %q: only printable characters", key)
		}
	}
	return nil
}

func runRun(ctx context.Context, f *cmdutil.Factory, opts *RunOptions) error {
	c, err := client(f)
	if err != nil {
		return err
	}
	a, err := c.Begin(ctx, agent.BeginRequest{Key: opts.Key, AtMostOnce: opts.AtMostOnce, InputHash: opts.InputHash})
	if err != nil {
		return suspended(f, err)
	}
	switch a.Action {
	case api.ActionDone:
		if a.Error != "" {
			return fail(agent.Permanent(&agent.StepError{Key: a.Key, Message: a.Error}))
		}
		return printResult(f, resultOf(a), recordedText(a.Output))
	case api.ActionSuspend, api.ActionStop:
		return suspended(f, fmt.Errorf("%w (%s)", agent.ErrSuspended, a.Reason))
	case api.ActionRun:
	default:
		return fail(fmt.Errorf("step %s: unexpected action %q", a.Key, a.Action))
	}
	stdout, last, runErr := runCommand(ctx, f, c, a, opts.Command)
	var exit *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &exit) && exit.ExitCode() == agent.ExitPermanent:
		msg := runErr.Error()
		if last != "" {
			msg = last
		}
		if err := c.End(ctx, agent.EndRequest{Key: a.Key, Error: msg}); err != nil {
			return suspended(f, err)
		}
		return fail(agent.Permanent(&agent.StepError{Key: a.Key, Message: msg}))
	case errors.As(runErr, &exit):
		code := exit.ExitCode()
		if code <= 0 {
			code = cmdutil.ExitFailure // killed by a signal
		}
		return &cmdutil.ExitError{Code: code, Err: fmt.Errorf("step %s: %s: %v; nothing recorded: the step runs again in the next attempt", a.Key, opts.Command[0], runErr)}
	default:
		return suspended(f, fmt.Errorf("step %s: %w", a.Key, runErr))
	}
	out, _ := json.Marshal(string(stdout)) // a string marshals
	if len(out) > api.MaxStepOutputBytes {
		return fail(fmt.Errorf("step %s: the output is %d bytes as JSON; the journal keeps at most %d", a.Key, len(out), api.MaxStepOutputBytes))
	}
	if err := c.End(ctx, agent.EndRequest{Key: a.Key, Output: out}); err != nil {
		return suspended(f, err)
	}
	a.Output = out
	return printResult(f, resultOf(a), stdout)
}

// recordedText is what a recorded output prints: the text of a JSON
// string (what `step run` records), else the JSON on a line.
func recordedText(out json.RawMessage) []byte {
	var s string
	if json.Unmarshal(out, &s) == nil {
		return []byte(s)
	}
	return jsonLine(out)
}

// runCommand runs the step's command: stdin is the agent's, stdout is
// captured (a bit past the journal's limit), stderr goes to f's stderr
// with its usage lines reported to the step instead. last is stderr's last
// line that is not blank.
func runCommand(ctx context.Context, f *cmdutil.Factory, c *agent.Client, a agent.Answer, argv []string) (stdout []byte, last string, err error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), EnvStepKey+"="+a.Key, EnvStepIdempotencyKey+"="+a.IdempotencyKey,
		EnvStepPreviousOutcome+"="+a.PreviousOutcome)
	out := &capped{max: api.MaxStepOutputBytes + 1}
	errw := &stderrLines{ctx: ctx, f: f, c: c}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f.IOStreams.In, out, errw
	cmd.WaitDelay = 5 * time.Second // a child left holding the pipes open
	err = cmd.Run()
	errw.flush()
	if err == nil && errw.err != nil {
		err = fmt.Errorf("report the usage of %s: %w", argv[0], errw.err)
	}
	return out.buf.Bytes(), errw.last, err
}

// capped keeps the first max bytes written to it (and drops the rest).
type capped struct {
	buf bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// stderrLines passes a command's stderr through line by line, reporting
// its `::baton usage` lines to the endpoint (charged to the open step,
// before the step ends) instead of printing them.
type stderrLines struct {
	ctx     context.Context
	f       *cmdutil.Factory
	c       *agent.Client
	partial []byte
	last    string
	err     error
}

func (w *stderrLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		w.line(append(w.partial, p[:i]...))
		w.partial, p = w.partial[:0], p[i+1:]
	}
	return n, nil
}

func (w *stderrLines) flush() {
	if len(w.partial) > 0 {
		w.line(w.partial)
		w.partial = nil
	}
}

func (w *stderrLines) line(b []byte) {
	l := strings.TrimSuffix(string(b), "\r")
	if u, ok := agent.ParseUsageLine(l); ok {
		if err := w.c.Usage(w.ctx, u.Tokens, api.Micros(u.CostMicros)); err != nil && w.err == nil {
			w.err = err
		}
		return
	}
	if strings.TrimSpace(l) != "" {
		w.last = l
	}
	fmt.Fprintln(w.f.IOStreams.ErrOut, l)
}
