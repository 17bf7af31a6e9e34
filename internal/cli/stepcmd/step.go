// Package stepcmd is `baton step`: durable steps for shell agents, thin
// wrappers of pkg/agent over the step endpoint that `baton worker run`
// serves each attempt (BATON_STEP_URL, BATON_STEP_TOKEN; docs/steps.md).
//
// Exit codes are pkg/agent's ExitCode: 0 done, 1 error, 2 usage or no
// endpoint, 4 the endpoint refused the token, 7 a wait timed out, 75 the
// task now waits (exit: a later attempt replays to here), 78 the step
// failed for good.
package stepcmd

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/agent"
)

// NewCmdStep returns `baton step` and its verbs.
func NewCmdStep(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "step",
		GroupID: "ops", // beside `worker`, which runs the agents that use it
		Short:   "Durable steps, sleeps, waits and child tasks for shell agents",
		Long: `Record the steps of an agent that ` + "`baton worker run`" + ` runs, so that a later
attempt of its task replays them instead of running them again. Each attempt
runs the agent from the top: a step already in the task's journal answers at
once with its recorded output. A sleep, a wait for a signal or a wait for a
child task frees the worker: the command exits 75 and a later attempt replays
to it and gets its result.

These commands talk only to the attempt's step endpoint (BATON_STEP_URL and
BATON_STEP_TOKEN, set by the worker); they need no API key.

Exit codes: 0 done · 1 error · 2 usage, or not under ` + "`baton worker run`" + ` · 4 the
endpoint refused BATON_STEP_TOKEN · 7 a wait timed out · 75 the task now waits:
exit with 75 too (` + "`set -e`" + ` does) · 78 the step failed for good.`,
		Example: `  pages=$(baton step run fetch -- curl -sf https://example.com/doc)
  baton step sleep cool-down 2m
  approval=$(baton step wait approve approve --timeout 24h)
  baton step spawn child-1 --input '{"page": 1}'
  children=$(baton step join pages "$id1" "$id2")
  llm --stream | baton step emit tokens`,
	}
	cmd.AddCommand(NewCmdRun(f, nil), NewCmdSleep(f, nil), NewCmdWait(f, nil), NewCmdSpawn(f, nil), NewCmdJoin(f, nil), NewCmdEmit(f, nil))
	return cmd
}

// client is the attempt's step endpoint from the environment. Errors:
// agent.ErrNoSupervisor as a usage error (exit 2).
func client(f *cmdutil.Factory) (*agent.Client, error) {
	url, tok := f.Getenv(agent.EnvStepURL), f.Getenv(agent.EnvStepToken)
	if url == "" || tok == "" {
		return nil, fail(agent.ErrNoSupervisor)
	}
	return agent.NewClient(url, tok, nil), nil
}

// fail turns a pkg/agent error into the command's exit: agent.ExitCode,
// the error printed — except a suspend, which says on stderr that the task
// waits and exits 75 (it is not a failure).
func fail(err error) error {
	if err == nil {
		return nil
	}
	return &cmdutil.ExitError{Code: agent.ExitCode(err), Err: err}
}

// suspended reports err as the task now waiting; other errors as fail.
func suspended(f *cmdutil.Factory, err error) error {
	if errors.Is(err, agent.ErrSuspended) {
		if f.JSONOutput() {
			return &cmdutil.ExitError{Code: agent.ExitSuspended, Err: err} // a JSON error on stderr
		}
		f.Infof("%v: exit %d; the worker stops this attempt and a later one replays to here", err, agent.ExitSuspended)
		return &cmdutil.ExitError{Code: agent.ExitSuspended}
	}
	return fail(err)
}

// result is what a step command prints with -o json|yaml (or --jq,
// --template): the step's journal key, the endpoint's action (run: it ran
// in this attempt; done: the journal, or the wait, answered) and its
// outcome.
type result struct {
	Key             string          `json:"key"`
	Action          string          `json:"action"`
	Output          json.RawMessage `json:"output"`
	Error           string          `json:"error,omitempty"`
	IdempotencyKey  string          `json:"idempotency_key,omitempty"`
	PreviousOutcome string          `json:"previous_outcome,omitempty"`
}

func resultOf(a agent.Answer) result {
	out := a.Output
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	return result{Key: a.Key, Action: a.Action, Output: out, Error: a.Error, IdempotencyKey: a.IdempotencyKey, PreviousOutcome: a.PreviousOutcome}
}

// printResult prints r: in the table format (the default) plain is written to
// stdout as it is — what a shell script captures; any other format, or a
// filter, prints r.
func printResult(f *cmdutil.Factory, r result, plain []byte) error {
	p, err := f.PrinterWithoutFilter() // -q silences hints only: the output is the data
	if err != nil {
		return err
	}
	if p.Format() == output.FormatTable && !p.Filtered() {
		if _, err := f.IOStreams.Out.Write(plain); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	return p.PrintObject(r, func(output.TimeFormatter) [][2]string {
		return [][2]string{{"key", r.Key}, {"action", r.Action}, {"output", string(r.Output)}, {"error", r.Error}}
	})
}

// jsonLine is a JSON value as a line of text ("null" for none).
func jsonLine(v json.RawMessage) []byte {
	if len(v) == 0 {
		v = json.RawMessage("null")
	}
	return append(append([]byte(nil), v...), '\n')
}
