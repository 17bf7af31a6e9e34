package cli_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
)

// TestTimeoutIsPerRequest (issue 16 row 7): the global --timeout bounds
// each HTTP request, not the command. A request that gets no answer is cut
// with a message naming the request and the bound; `tasks logs -f` stays
// open across quiet stretches longer than the bound and sees the task end.
func TestTimeoutIsPerRequest(t *testing.T) {
	t.Parallel()
	const bound = 200 * time.Millisecond
	e := clitest.NewStub(t, clitest.Routes{
		"GET /v1/tasks/task_stall": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }),
		"GET /v1/tasks/task_slow/events": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			line := func(seq int, msg string) {
				fmt.Fprintf(w, "id: %d\nevent: log\ndata: {\"seq\":%d,\"type\":\"log\",\"attempt\":1,\"message\":%q}\n\n", seq, seq, msg)
				w.(http.Flusher).Flush()
			}
			line(1, "first")
			for i := 2; i <= 3; i++ { // quiet for longer than the bound, twice
				select {
				case <-time.After(2 * bound):
				case <-r.Context().Done():
					return
				}
				line(i, fmt.Sprintf("line %d", i))
			}
			fmt.Fprint(w, "event: end\ndata: {\"status\":\"succeeded\"}\n\n")
		}),
	})
	r := e.Run("tasks", "get", "task_stall", "--timeout", bound.String())
	if r.Code != 1 || !strings.Contains(r.Stderr, "GET /v1/tasks/task_stall: no answer within 200ms") {
		t.Fatalf("a stalled request: exit %d\n%s", r.Code, r.Stderr)
	}
	start := time.Now()
	r = e.Run("tasks", "logs", "task_slow", "-f", "--timeout", bound.String()).Want(t, 0)
	if !strings.Contains(r.Stdout, "first") || !strings.Contains(r.Stdout, "line 3") {
		t.Fatalf("logs -f cut short:\n%s\n%s", r.Stdout, r.Stderr)
	}
	if el := time.Since(start); el < 4*bound {
		t.Fatalf("logs -f took %s: the stream cannot have been quiet for 4 bounds", el)
	}
}

// TestSettingsFromEnvAndProfile (issue 16): the global settings other
// than the credentials come from BATON_* and from the profile too, flag >
// environment > profile: BATON_TIMEOUT bounds requests, a profile's
// output is used unless BATON_OUTPUT or -o says otherwise.
func TestSettingsFromEnvAndProfile(t *testing.T) {
	t.Parallel()
	task := map[string]any{"id": "task_1", "queue": "default", "status": "queued", "created_at": "2026-11-28T22:00:00Z"}
	e := clitest.NewStub(t, clitest.Routes{
		"GET /v1/tasks/task_1":     task,
		"GET /v1/tasks/task_stall": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }),
	})
	r := e.Exec(clitest.Invocation{Args: []string{"tasks", "get", "task_stall"}, Env: map[string]string{"BATON_API_KEY": e.Key, "BATON_TIMEOUT": "150ms"}})
	if r.Code != 1 || !strings.Contains(r.Stderr, "no answer within 150ms") {
		t.Fatalf("BATON_TIMEOUT: exit %d\n%s", r.Code, r.Stderr)
	}
	r = e.Exec(clitest.Invocation{Args: []string{"tasks", "get", "task_stall"}, Env: map[string]string{"BATON_API_KEY": e.Key, "BATON_TIMEOUT": "soon"}})
	if r.Code != 2 || !strings.Contains(r.Stderr, `"soon" is not a duration`) || !strings.Contains(r.Stderr, "BATON_TIMEOUT") {
		t.Fatalf("bad BATON_TIMEOUT: exit %d\n%s", r.Code, r.Stderr)
	}
	if err := os.MkdirAll(filepath.Dir(e.ConfigPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.ConfigPath, []byte("current_profile: p\nprofiles:\n  p:\n    api_key: "+e.Key+"\n    output: yaml\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, nil, "id: task_1"}, // the profile's output
		{map[string]string{"BATON_OUTPUT": "json"}, nil, `"id": "task_1"`},        // env over the profile
		{map[string]string{"BATON_OUTPUT": "json"}, []string{"-o", "csv"}, "id,"}, // the flag over env
		{map[string]string{"BATON_JQ": ".queue"}, []string{"-o", "json"}, "default\n"},
	} {
		env := map[string]string{"BATON_API_KEY": ""}
		for k, v := range c.env {
			env[k] = v
		}
		r := e.Exec(clitest.Invocation{Args: append([]string{"tasks", "get", "task_1"}, c.args...), Env: env}).Want(t, 0)
		if !strings.Contains(r.Stdout, c.want) {
			t.Errorf("%v %v: stdout %q, want %q", c.env, c.args, r.Stdout, c.want)
		}
	}
}
