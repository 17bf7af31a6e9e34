// Package tasks is `baton tasks`: submit tasks, list and read them, cancel
// them, wait for them to end and read or follow their logs. `submit --wait`
// and `wait` exit with the task's code (CONTRACT.md: 0 succeeded, 10 failed,
// 11 cancelled, 12 terminated or timed out, 7 when the wait timed out).
package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/output"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// NewCmdTasks returns the `baton tasks` group.
func NewCmdTasks(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tasks <command>",
		Aliases: []string{"task"},
		Short:   "Submit, list, follow and cancel tasks",
		Long: `Submit agent tasks and follow them: workers (` + "`baton worker run`" + `) run them.

Task states: queued (also while held by a used-up quota or waiting for a
retry), running, waiting (a durable step sleeps or waits for a signal, a
child task, an operator or budget: see docs/steps.md), and the final
succeeded, failed, cancelled, timed_out and terminated. ` + "`submit --wait`" + ` and ` + "`wait`" + ` exit with the task's code: 0 succeeded,
10 failed, 11 cancelled, 12 terminated or timed out, 7 when the wait itself
timed out (the task keeps running).`,
	}
	cmd.AddCommand(NewCmdSubmit(f, nil), NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCancel(f, nil),
		NewCmdWait(f, nil), NewCmdLogs(f, nil), NewCmdSteps(f), NewCmdSignal(f), NewCmdRetry(f), NewCmdUpdate(f))
	return cmd
}

// completeIDs completes the first positional argument with the ids of the
// newest tasks (one page, described by status), asking the server; finished
// tasks are left out when activeOnly. On any error it offers nothing.
func completeIDs(f *cmdutil.Factory, activeOnly bool) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return cmdutil.CompleteIDs(f,
		func(ctx context.Context, c *client.Client) (api.List[api.Task], error) {
			return c.ListTasks(ctx, client.TaskListOptions{ListOptions: client.ListOptions{Limit: 100}})
		},
		func(t api.Task) (string, string, bool) {
			return t.ID, t.Status + " (" + t.Queue + ")", !activeOnly || !api.IsTerminal(t.Status)
		})
}

// noCompletion offers nothing and no file names (free-form flag values).
func noCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// exitCodeFor is the exit code of a finished task's status (CONTRACT.md).
func exitCodeFor(status string) int {
	switch status {
	case api.TaskSucceeded:
		return cmdutil.ExitOK
	case api.TaskFailed:
		return cmdutil.ExitTaskFailed
	case api.TaskCancelled:
		return cmdutil.ExitTaskCancelled
	case api.TaskTimedOut, api.TaskTerminated:
		return cmdutil.ExitTaskStopped
	}
	return cmdutil.ExitFailure
}

// usd formats micro-dollars as dollars with four decimals (tasks cost
// fractions of a cent): 3100 → "0.0031", 12345678 → "12.3457".
func usd(micros int64) string { return api.RoundUSD(micros, 4) }

// duration is output.Duration, the one duration format of the CLI.
func duration(d time.Duration) string { return output.Duration(d) }

// elapsed is how long the task ran: from its start to its end, or to now
// while it is not finished; "" before it started.
func elapsed(t api.Task, now time.Time) string {
	if t.StartedAt == nil {
		return ""
	}
	end := now
	if t.FinishedAt != nil {
		end = *t.FinishedAt
	}
	return duration(end.Sub(*t.StartedAt))
}

// attempts formats the attempt counter: "1/3".
func attempts(t api.Task) string { return fmt.Sprintf("%d/%d", t.Attempt, t.MaxAttempts) }

// labels formats labels as "k=v" sorted by key, joined by sep.
func labels(l map[string]string, sep string) string {
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, sep)
}

// maxJSON is how many characters of a task's output a table shows.
const maxJSON = 200

// compactJSON is raw as compact JSON cut to maxJSON characters ("" for
// none or null).
func compactJSON(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err == nil {
		s = b.String()
	}
	if r := []rune(s); len(r) > maxJSON {
		return string(r[:maxJSON]) + "… (-o json shows all)"
	}
	return s
}

// orDash shows an empty value as "-" on a terminal (human), "" otherwise.
func orDash(human bool, s string) string {
	if s == "" && human {
		return "-"
	}
	return s
}

// fields is the table form of one task; status_reason, error, output and
// the attempts come last, when set.
func fields(t api.Task, now time.Time, tf output.TimeFormatter) [][2]string {
	human := tf.TimePtr(nil) != "" // a terminal shows missing values as "-"
	timeout := "tier maximum"
	if t.TimeoutSeconds > 0 {
		timeout = duration(time.Duration(t.TimeoutSeconds) * time.Second)
	}
	kv := [][2]string{{"id", t.ID}, {"queue", t.Queue}, {"status", t.Status}}
	if t.StatusReason != "" {
		kv = append(kv, [2]string{"status_reason", t.StatusReason})
	}
	kv = append(kv, [][2]string{{"attempt", attempts(t)}, {"priority", strconv.Itoa(t.Priority)},
		{"labels", orDash(human, labels(t.Labels, ", "))}, {"created", tf.Time(t.CreatedAt)},
		{"started", tf.TimePtr(t.StartedAt)}, {"finished", tf.TimePtr(t.FinishedAt)},
		{"duration", orDash(human, elapsed(t, now))}, {"timeout", timeout},
		{"execution", duration(time.Duration(t.Usage.ExecutionMS) * time.Millisecond)},
		{"tokens", tf.Int(t.Usage.Tokens)}, {"cost_usd", usd(t.Usage.CostMicros)}}...)
	if t.MaxCostMicros > 0 {
		kv = append(kv, [2]string{"max_cost_usd", usd(t.MaxCostMicros)})
	}
	if t.ParentID != "" {
		kv = append(kv, [2]string{"parent", t.ParentID})
	}
	if t.Error != "" {
		kv = append(kv, [2]string{"error", t.Error})
	}
	if out := compactJSON(t.Output); out != "" {
		kv = append(kv, [2]string{"output", out})
	}
	for _, a := range t.Attempts {
		kv = append(kv, [2]string{fmt.Sprintf("attempt_%d", a.Number), attemptLine(a, tf)})
	}
	return kv
}

// attemptLine describes one attempt: "failed, worker w-1, started 5 minutes
// ago, ran 4.2s, 0.0031 USD: exit status 1".
func attemptLine(a api.Attempt, tf output.TimeFormatter) string {
	parts := []string{a.Status}
	if a.WorkerID != "" {
		parts = append(parts, "worker "+a.WorkerID)
	}
	parts = append(parts, "started "+tf.Time(a.StartedAt))
	if a.Usage.ExecutionMS > 0 || a.FinishedAt != nil {
		parts = append(parts, "ran "+duration(time.Duration(a.Usage.ExecutionMS)*time.Millisecond))
	}
	if a.Usage.CostMicros != 0 {
		parts = append(parts, usd(a.Usage.CostMicros)+" USD")
	}
	s := strings.Join(parts, ", ")
	if a.Error != "" {
		s += ": " + a.Error
	}
	return s
}

// table is the tabular form of a list of tasks.
func table(tasks []api.Task, now time.Time, tf output.TimeFormatter) output.Table {
	human := tf.TimePtr(nil) != ""
	t := output.Table{Headers: []string{"id", "queue", "status", "attempt", "created", "duration", "cost_usd"},
		Drop: []string{"created"}, Empty: "no tasks: submit one with `baton tasks submit`"}
	for _, x := range tasks {
		t.Rows = append(t.Rows, []string{x.ID, x.Queue, x.Status, attempts(x), tf.Time(x.CreatedAt),
			orDash(human, elapsed(x, now)), usd(x.Usage.CostMicros)})
	}
	return t
}
