package apicmd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/cli/apicmd"
	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

func TestFlags(t *testing.T) {
	parse := func(args ...string) (*apicmd.Options, error) {
		var got *apicmd.Options
		err := clitest.Parse(apicmd.NewCmdAPI(clitest.Factory(false), func(_ context.Context, o *apicmd.Options) error { got = o; return nil }), args...)
		return got, err
	}
	for _, c := range []struct {
		args         []string
		method, path string
	}{
		{[]string{"/v1/me"}, "GET", "/v1/me"},
		{[]string{"v1/me"}, "GET", "/v1/me"},
		{[]string{"delete", "/v1/keys/key_1"}, "DELETE", "/v1/keys/key_1"},
		{[]string{"/v1/tasks", "-f", "queue=q"}, "POST", "/v1/tasks"},
		{[]string{"GET", "/v1/tasks", "-f", "status=failed"}, "GET", "/v1/tasks"},
		{[]string{"/v1/tasks", "--input", "-"}, "POST", "/v1/tasks"},
	} {
		got, err := parse(c.args...)
		if err != nil || got.Method != c.method || got.Path != c.path {
			t.Errorf("%v: err %v, %+v", c.args, err, got)
		}
	}
	for _, args := range [][]string{{}, {"FETCH", "/v1/me"}, {"a", "b", "c"}, {"POST", "/v1/tasks", "--paginate"},
		{"POST", "/v1/tasks", "--input", "x.json", "-f", "a=b"}} {
		_, err := parse(args...)
		clitest.WantFlagError(t, err)
	}
}

// TestAPI runs `baton api` against a real server: GET, POST from fields
// and from a file, --paginate over 250 tasks, --jq, errors with their exit
// codes, and an event stream.
func TestAPI(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	res := clitest.JSON[api.CreateWorkspaceResponse](t, e.Run("workspaces", "create", "big", "--tier", "team", "-o", "json").Want(t, 0))
	owner := res.Key.Secret

	r := e.RunAs(owner, "api", "/v1/me").Want(t, 0)
	if me := clitest.JSON[api.Me](t, r); me.Workspace == nil || me.Workspace.Name != "big" {
		t.Fatalf("GET /v1/me: %s", r.Stdout)
	}
	if r := e.RunAs(owner, "api", "/v1/me", "--jq", ".workspace.name").Want(t, 0); r.Stdout != "big\n" {
		t.Fatalf("--jq: %q", r.Stdout)
	}

	// POST from -f/-F fields, and from --input.
	in := filepath.Join(t.TempDir(), "input.json")
	if err := os.WriteFile(in, []byte(`{"prompt": "hi"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r = e.RunAs(owner, "api", "/v1/tasks", "-f", "queue=email", "-F", "priority=3", "-F", "input=@"+in).Want(t, 0)
	task := clitest.JSON[api.Task](t, r)
	if task.Queue != "email" || task.Priority != 3 || string(task.Input) != `{"prompt":"hi"}` {
		t.Fatalf("POST with fields: %s", r.Stdout)
	}
	body := filepath.Join(t.TempDir(), "task.json")
	if err := os.WriteFile(body, []byte(`{"queue": "from-file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.RunAs(owner, "api", "POST", "/v1/tasks", "--input", body, "--jq", ".queue").Want(t, 0); r.Stdout != "from-file\n" {
		t.Fatalf("--input: %q", r.Stdout)
	}

	// Errors: the problem on stdout, the error on stderr, the exit code of its code.
	r = e.RunAs(owner, "api", "/v1/tasks/task_01jd0000000000000000000000").Want(t, 3)
	if !strings.Contains(r.Stdout, `"code":"not_found"`) || !strings.Contains(r.Stderr, "error:") {
		t.Fatalf("404: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	e.RunAs("", "api", "/v1/me").Want(t, 4)
	e.RunAs(owner, "api", "POST", "/v1/tasks", "-F", "priority=high").Want(t, 1) // 422

	// --paginate: every one of 250 tasks (248 more), over pages of 100.
	c, err := client.New(e.URL, client.WithAPIKey(owner))
	if err != nil {
		t.Fatal(err)
	}
	for range 248 {
		if _, err := c.SubmitTask(context.Background(), api.SubmitTaskRequest{}, ""); err != nil {
			t.Fatal(err)
		}
	}
	r = e.RunAs(owner, "api", "/v1/tasks", "-f", "limit=100", "--paginate").Want(t, 0)
	var all []api.Task
	if err := json.Unmarshal([]byte(r.Stdout), &all); err != nil || len(all) != 250 {
		t.Fatalf("--paginate: %d tasks, %v", len(all), err)
	}
	seen := map[string]bool{}
	for _, x := range all {
		seen[x.ID] = true
	}
	if len(seen) != 250 {
		t.Fatalf("--paginate: %d distinct tasks", len(seen))
	}
	if r := e.RunAs(owner, "api", "/v1/tasks", "--paginate", "--jq", "length").Want(t, 0); r.Stdout != "250\n" {
		t.Fatalf("--paginate --jq length: %q", r.Stdout)
	}

	// An event stream is copied as it comes; it ends with the task.
	e.RunAs(owner, "tasks", "cancel", task.ID).Want(t, 0)
	r = e.RunAs(owner, "api", "/v1/tasks/"+task.ID+"/events").Want(t, 0)
	if !strings.Contains(r.Stdout, "data: ") || !strings.Contains(r.Stdout, api.TaskCancelled) {
		t.Fatalf("event stream:\n%s", r.Stdout)
	}
}

// TestCompletePaths: PATH completes from the server's /openapi.json, with
// or without a METHOD before it; a first word that is not a path also
// completes as a method; a server that does not answer completes nothing
// (and no files).
func TestCompletePaths(t *testing.T) {
	t.Parallel()
	e := clitest.NewServer(t)
	lines := func(r clitest.Result) []string { return strings.Split(strings.TrimSpace(r.Stdout), "\n") }
	got := lines(e.Run("__complete", "api", "/v1/ta").Want(t, 0))
	if !slices.Contains(got, "/v1/tasks") || !slices.Contains(got, "/v1/tasks/{id}") || got[len(got)-1] != ":4" {
		t.Fatalf("api /v1/ta: %q", got)
	}
	for _, p := range got[:len(got)-1] {
		if !strings.HasPrefix(p, "/v1/ta") {
			t.Errorf("%q does not start with what was typed", p)
		}
	}
	if got := lines(e.Run("__complete", "api", "GET", "/v1/ke").Want(t, 0)); !slices.Contains(got, "/v1/keys") || slices.Contains(got, "GET") {
		t.Fatalf("api GET /v1/ke: %q", got)
	}
	if got := lines(e.Run("__complete", "api", "p").Want(t, 0)); !slices.Contains(got, "POST") || !slices.Contains(got, "PATCH") || slices.Contains(got, "GET") {
		t.Fatalf("api p: %q", got)
	}
	if r := e.Run("__complete", "api", "GET", "/v1/me", ""); r.Stdout != ":4\n" {
		t.Fatalf("a third argument: %q", r.Stdout)
	}
	down := e.Exec(clitest.Invocation{Args: []string{"__complete", "api", "/v1/"}, Env: map[string]string{"BATON_SERVER": "http://127.0.0.1:1"}}).Want(t, 0)
	if down.Stdout != ":4\n" {
		t.Fatalf("server down: %q", down.Stdout)
	}
}
