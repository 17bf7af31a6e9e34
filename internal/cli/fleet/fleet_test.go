package fleet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/cli/clitest"
	"github.com/genericcorp/baton/pkg/api"
)

func ptr[T any](v T) *T { return &v }

func stubWorkers() []api.Worker {
	return []api.Worker{
		{ID: "w-build-01.eu-west-1.internal-4242", WorkspaceID: "ws_01jd0000000000000000000001", Host: "build-01.eu-west-1.internal.example.com",
			Version: "v1.4.0", Queues: []string{"default", "email", "summaries"}, Concurrency: 8, Running: 3, LastSeenAt: clitest.At(-5 * time.Second)},
		{ID: "w-laptop-77", WorkspaceID: "ws_01jd0000000000000000000001", Host: "laptop", Version: "dev",
			Queues: []string{"default"}, Concurrency: 1, Running: 0, LastSeenAt: clitest.At(-50 * time.Second)},
	}
}

func stubQueues() []api.Queue {
	return []api.Queue{
		{Name: "default", Queued: 1234, Held: 0, Running: 8, Waiting: 2, OldestQueuedAt: ptr(clitest.At(-3*time.Minute - 10*time.Second)), Pollers: 2},
		{Name: "email", Queued: 3, Held: 12, Running: 0, Waiting: 0, OldestQueuedAt: ptr(clitest.At(-2*time.Hour - 5*time.Minute)), Pollers: 0},
		{Name: "idle", Queued: 0, Running: 0, Pollers: 1},
	}
}

func TestWorkersList(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, clitest.Routes{"GET /v1/workers": api.List[api.Worker]{Data: stubWorkers()}})
	e.GoldenWidths(t, "workers_list", "workers", "list")
	clitest.Golden(t, "workers_list_piped", clitest.Normalize(e.Run("workers", "list").Want(t, 0).Stdout))
	clitest.Golden(t, "workers_list_json", clitest.Normalize(e.Run("workers", "list", "-o", "json").Want(t, 0).Stdout))
	if r := e.Run("workers", "ls", "-q").Want(t, 0); r.Stdout != "w-build-01.eu-west-1.internal-4242\nw-laptop-77\n" {
		t.Fatalf("-q: %q", r.Stdout)
	}
	if r := e.Run("workers", "list", "--jq", `.[] | select(.running > 0) | .host`).Want(t, 0); r.Stdout != "build-01.eu-west-1.internal.example.com\n" {
		t.Fatalf("--jq: %q", r.Stdout)
	}
	e.Run("workers", "list", "extra").Want(t, 2)
}

func TestWorkersListEmpty(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, clitest.Routes{"GET /v1/workers": api.List[api.Worker]{Data: []api.Worker{}}})
	r := e.TTY("workers", "list").Want(t, 0)
	if r.Stdout != "" || !strings.Contains(r.Stderr, "no worker has polled in the last minute: start one with `baton worker run -- CMD`") {
		t.Fatalf("empty: stdout %q stderr %q", r.Stdout, r.Stderr)
	}
	if r := e.Run("workers", "list").Want(t, 0); r.Stdout != "id\thost\tversion\tqueues\trunning\tlast_seen\n" {
		t.Fatalf("empty piped: %q", r.Stdout)
	}
}

func TestQueuesList(t *testing.T) {
	t.Parallel()
	e := clitest.NewStub(t, clitest.Routes{"GET /v1/queues": api.List[api.Queue]{Data: stubQueues()}})
	e.GoldenWidths(t, "queues_list", "queues", "list")
	r := e.Run("queues", "list").Want(t, 0)
	clitest.Golden(t, "queues_list_piped", clitest.Normalize(r.Stdout+"--- stderr\n"+r.Stderr))
	clitest.Golden(t, "queues_list_json", clitest.Normalize(e.Run("queues", "list", "-o", "json").Want(t, 0).Stdout))
	if !strings.Contains(r.Stderr, "warning: no worker polls queue email: its 3 queued tasks will not run") || strings.Contains(r.Stderr, "queue default") {
		t.Fatalf("poller warning: %s", r.Stderr)
	}
	if r := e.Run("queues", "list", "--template", `{{range .}}{{if eq .pollers 0}}{{.name}}{{"\n"}}{{end}}{{end}}`).Want(t, 0); r.Stdout != "email\n" || r.Stderr != "" {
		t.Fatalf("--template: %q %q", r.Stdout, r.Stderr)
	}
}

func TestFleetErrors(t *testing.T) {
	t.Parallel()
	forbidden := clitest.Reply{Status: 403, Body: map[string]any{"code": "forbidden", "status": 403, "title": "Forbidden", "detail": "needs tasks:read"}}
	e := clitest.NewStub(t, clitest.Routes{"GET /v1/workers": forbidden, "GET /v1/queues": forbidden})
	e.Run("workers", "list").Want(t, 4)
	e.Run("queues", "list").Want(t, 4)
}
