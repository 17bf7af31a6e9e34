package tasks_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/internal/cli/cmdutil"
	"github.com/genericcorp/baton/internal/cli/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

// parseSubmit parses submit's flags with stdin fed from stdin.
func parseSubmit(t *testing.T, stdin string, args ...string) (*tasks.SubmitOptions, error) {
	t.Helper()
	var got *tasks.SubmitOptions
	f := clitest.Factory(false)
	f.IOStreams.In = strings.NewReader(stdin)
	err := clitest.Parse(tasks.NewCmdSubmit(f, func(_ context.Context, o *tasks.SubmitOptions) error { got = o; return nil }), args...)
	return got, err
}

func TestSubmitFlags(t *testing.T) {
	got, err := parseSubmit(t, "", "--queue", "email", "--input", `{ "prompt": "hi",  "n": [1, 2] }`, "--priority", "5",
		"--run-timeout", "10m", "--max-attempts", "2", "--label", "env=prod", "--label", "team=a=b,c", "--idempotency-key", "k1",
		"--wait", "--wait-timeout", "30s")
	if err != nil {
		t.Fatal(err)
	}
	r := got.Request
	if r.Queue != "email" || string(r.Input) != `{"prompt":"hi","n":[1,2]}` || r.Priority != 5 || r.TimeoutSeconds != 600 ||
		r.MaxAttempts != 2 || len(r.Labels) != 2 || r.Labels["env"] != "prod" || r.Labels["team"] != "a=b,c" ||
		got.IdempotencyKey != "k1" || !got.Wait || got.WaitTimeout != 30*time.Second {
		t.Fatalf("options = %+v", got)
	}

	// Nothing given: the server's defaults.
	got, err = parseSubmit(t, "")
	if err != nil || got.Request.Input != nil || got.Request.Queue != "" || got.Request.TimeoutSeconds != 0 ||
		got.Request.MaxAttempts != 0 || got.Request.Labels != nil || got.IdempotencyKey != "" || got.Wait {
		t.Fatalf("err %v, defaults %+v", err, got)
	}

	// Days are a timeout too; --timeout is the old spelling of --run-timeout.
	if got, err = parseSubmit(t, "", "--run-timeout", "1d"); err != nil || got.Request.TimeoutSeconds != 86400 {
		t.Fatalf("--run-timeout 1d: err %v, %+v", err, got)
	}
	if got, err = parseSubmit(t, "", "--timeout", "2h"); err != nil || got.Request.TimeoutSeconds != 7200 {
		t.Fatalf("--timeout 2h: err %v, %+v", err, got)
	}
	_, err = parseSubmit(t, "", "--timeout", "2h", "--run-timeout", "1h")
	clitest.WantFlagError(t, err)
}

func TestSubmitInputForms(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "in.json")
	if err := os.WriteFile(file, []byte("{\n  \"from\": \"file\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := parseSubmit(t, "", "--input", "@"+file)
	if err != nil || string(got.Request.Input) != `{"from":"file"}` {
		t.Fatalf("@file: err %v, input %s", err, got.Request.Input)
	}
	got, err = parseSubmit(t, "  {\"from\": \"stdin\"}\n", "--input", "-")
	if err != nil || string(got.Request.Input) != `{"from":"stdin"}` {
		t.Fatalf("stdin: err %v, input %s", err, got.Request.Input)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"a": `), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ stdin, input, want string }{
		"bad inline JSON":  {"", `{"a": }`, "not valid JSON"},
		"two documents":    {"", `{} {}`, "not valid JSON"},
		"array":            {"", `[1, 2]`, "must be a JSON object"},
		"string":           {"", `"hi"`, "must be a JSON object"},
		"null":             {"", `null`, "must be a JSON object"},
		"number":           {"", `42`, "must be a JSON object"},
		"empty":            {"", ``, "empty"},
		"bad file":         {"", "@" + bad, "not valid JSON"},
		"missing file":     {"", "@" + filepath.Join(dir, "nope.json"), "no such file"},
		"no file name":     {"", "@", "missing the file name"},
		"bad stdin":        {"nope", "-", "not valid JSON"},
		"empty stdin":      {"", "-", "empty"},
		"non-object stdin": {"[]", "-", "must be a JSON object"},
		"too large":        {`{"a": "` + strings.Repeat("x", api.MaxTaskInputBytes) + `"}`, "-", "at most 256 KiB"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseSubmit(t, c.stdin, "--input", c.input)
			clitest.WantFlagError(t, err)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

func TestSubmitBadFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"bad duration":           {"--run-timeout", "soon"},
		"negative duration":      {"--run-timeout", "-5m"},
		"sub-second timeout":     {"--run-timeout", "500ms"},
		"fractional timeout":     {"--run-timeout", "1500ms"},
		"zero timeout":           {"--run-timeout", "0s"},
		"label without =":        {"--label", "env"},
		"label without key":      {"--label", "=prod"},
		"label twice":            {"--label", "a=1", "--label", "a=2"},
		"zero attempts":          {"--max-attempts", "0"},
		"empty queue":            {"--queue", ""},
		"empty idempotency key":  {"--idempotency-key", ""},
		"wait-timeout sans wait": {"--wait-timeout", "1m"},
		"argument":               {"extra"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseSubmit(t, "", args...)
			clitest.WantFlagError(t, err)
		})
	}
}

func TestListFlags(t *testing.T) {
	var got *tasks.ListOptions
	run := func(_ context.Context, o *tasks.ListOptions) error { got = o; return nil }
	if err := clitest.Parse(tasks.NewCmdList(clitest.Factory(false), run)); err != nil || got.Limit != 20 || got.All || got.Status != "" {
		t.Fatalf("err %v, defaults %+v", err, got)
	}
	err := clitest.Parse(tasks.NewCmdList(clitest.Factory(false), run), "--status", "running", "--queue", "q", "--label", "env=prod", "--label", "team=a", "--limit", "100", "--all")
	if err != nil || got.Status != "running" || got.Queue != "q" || strings.Join(got.Labels, ",") != "env=prod,team=a" || got.Limit != 100 || !got.All {
		t.Fatalf("err %v, options %+v", err, got)
	}
	for _, s := range api.TaskStatuses {
		if err := clitest.Parse(tasks.NewCmdList(clitest.Factory(false), run), "--status", s); err != nil {
			t.Errorf("--status %s: %v", s, err)
		}
	}
	for _, args := range [][]string{
		{"--status", "done"}, {"--status", ""}, {"--status", "Running"},
		{"--limit", "0"}, {"--limit", "101"}, {"--label", "env"}, {"--queue", ""}, {"extra"},
	} {
		clitest.WantFlagError(t, clitest.Parse(tasks.NewCmdList(clitest.Factory(false), run), args...))
	}
}

// TestIDFlags covers the verbs that take one task id.
func TestIDFlags(t *testing.T) {
	var id string
	var follow bool
	cmds := map[string]func(*cmdutil.Factory) *cobra.Command{
		"get": func(f *cmdutil.Factory) *cobra.Command {
			return tasks.NewCmdGet(f, func(_ context.Context, o *tasks.GetOptions) error { id = o.ID; return nil })
		},
		"cancel": func(f *cmdutil.Factory) *cobra.Command {
			return tasks.NewCmdCancel(f, func(_ context.Context, o *tasks.CancelOptions) error { id = o.ID; return nil })
		},
		"wait": func(f *cmdutil.Factory) *cobra.Command {
			return tasks.NewCmdWait(f, func(_ context.Context, o *tasks.WaitOptions) error { id = o.ID; return nil })
		},
		"logs": func(f *cmdutil.Factory) *cobra.Command {
			return tasks.NewCmdLogs(f, func(_ context.Context, o *tasks.LogsOptions) error { id, follow = o.ID, o.Follow; return nil })
		},
	}
	for name, mk := range cmds {
		t.Run(name, func(t *testing.T) {
			parse := func(args ...string) error { return clitest.Parse(mk(clitest.Factory(false)), args...) }
			id = ""
			if err := parse("task_1"); err != nil || id != "task_1" {
				t.Fatalf("err %v, id %q", err, id)
			}
			clitest.WantFlagError(t, parse())
			clitest.WantFlagError(t, parse("a", "b"))
		})
	}
	logs := cmds["logs"](clitest.Factory(false))
	if err := clitest.Parse(logs, "task_2", "-f"); err != nil || id != "task_2" || !follow {
		t.Fatalf("logs -f: err %v, id %q, follow %v", err, id, follow)
	}
}
