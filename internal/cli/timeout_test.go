package cli_test

import (
	"fmt"
	"net/http"
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
