package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// onEveryStore runs f on a server over SQLite and, when
// BATON_TEST_POSTGRES_URL is set, over PostgreSQL.
func onEveryStore(t *testing.T, f func(t *testing.T, b *bundle)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, setup(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), testutil.PostgresSchema(t), 4)
		if err != nil {
			t.Fatal(err)
		}
		f(t, setupStore(t, st, nil))
	})
}

func nested(depth int) string {
	return `{"a":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
}

// Input and output that a store would refuse with a 500 are refused at the
// edge: nested deeper than api.MaxJSONDepth (SQLite: 1000 levels at most)
// or not valid UTF-8 (PostgreSQL).
func TestUnstorableJSONIsRefused(t *testing.T) {
	t.Parallel()
	onEveryStore(t, func(t *testing.T, b *bundle) {
		a := b.newTenant("acme")
		p := wantProblem(t, b.req("POST", "/v1/tasks", a.key, `{"input":`+nested(1000)+`}`), 422, api.CodeValidationFailed)
		if len(p.Errors) != 1 || p.Errors[0].Field != "input" {
			t.Fatalf("errors = %+v", p.Errors)
		}
		wantProblem(t, b.req("POST", "/v1/tasks", a.key, "{\"input\":{\"a\":\"\xff\"}}"), 400, api.CodeInvalidRequest)
		// As deep as allowed, and the \u0000 escape, are kept byte for byte.
		for _, in := range []string{nested(api.MaxJSONDepth), `{"a":"x\u0000y"}`} {
			var got api.Task
			b.call("POST", "/v1/tasks", a.key, map[string]json.RawMessage{"input": json.RawMessage(in)}, 201, &got)
			if string(b.getTask(a.key, got.ID).Input) != in {
				t.Fatalf("input %.40s… not kept", in)
			}
		}

		// An output the store cannot hold is 422 at complete, and the
		// attempt still holds the task: the worker can fail it instead.
		task := b.submit(a.key, api.SubmitTaskRequest{Queue: "out"}, "", 201)
		b.claim(a.key, "out")
		p = wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/complete", a.key, `{"attempt":1,"output":`+nested(1500)+`}`), 422, api.CodeValidationFailed)
		if len(p.Errors) != 1 || p.Errors[0].Field != "output" {
			t.Fatalf("errors = %+v", p.Errors)
		}
		wantProblem(t, b.req("POST", "/v1/tasks/"+task.ID+"/complete", a.key, "{\"attempt\":1,\"output\":\"\xff\"}"), 400, api.CodeInvalidRequest)
		var failed api.Task
		b.call("POST", "/v1/tasks/"+task.ID+"/fail", a.key, api.FailRequest{Attempt: 1, Error: "output refused"}, 200, &failed)
		if failed.Status != api.TaskFailed {
			t.Fatalf("failed = %+v", failed)
		}
	})
}

// timeout_seconds large enough to overflow a time.Duration (9223372037 s ×
// 1e9 ns > MaxInt64) would become a negative timeout that escapes the
// tier's max duration.
func TestTimeoutSecondsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.newTenant("acme")
	for _, n := range []int64{9223372037, api.MaxTimeoutSeconds + 1} {
		p := wantProblem(t, b.call("POST", "/v1/tasks", a.key, api.SubmitTaskRequest{TimeoutSeconds: n}, 422, nil), 422, api.CodeValidationFailed)
		if len(p.Errors) != 1 || p.Errors[0].Field != "timeout_seconds" {
			t.Fatalf("%d: errors = %+v", n, p.Errors)
		}
	}
	b.submit(a.key, api.SubmitTaskRequest{TimeoutSeconds: api.MaxTimeoutSeconds}, "", 201)
}

// Worker-reported usage is bounded, so sums never overflow (a 500 and a
// corrupted cost report otherwise).
func TestReportedUsageBounded(t *testing.T) {
	t.Parallel()
	onEveryStore(t, func(t *testing.T, b *bundle) {
		a := b.newTenant("acme")
		task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
		b.claim(a.key)
		path := "/v1/tasks/" + task.ID
		for _, u := range []api.UsageReport{{Tokens: 1 << 62}, {CostMicros: 1 << 62}, {Tokens: -1}, {CostMicros: api.MaxUsageCostMicros + 1}} {
			for _, c := range []struct {
				route string
				body  any
			}{
				{"/heartbeat", api.HeartbeatRequest{Attempt: 1, Usage: &u}},
				{"/complete", api.CompleteRequest{Attempt: 1, Usage: &u}},
				{"/fail", api.FailRequest{Attempt: 1, Usage: &u}},
			} {
				p := wantProblem(t, b.call("POST", path+c.route, a.key, c.body, 422, nil), 422, api.CodeValidationFailed)
				if len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0].Field, "usage.") {
					t.Fatalf("%s %+v: errors = %+v", c.route, u, p.Errors)
				}
			}
		}
		max := api.UsageReport{Tokens: api.MaxUsageTokens, CostMicros: api.MaxUsageCostMicros}
		b.call("POST", path+"/complete", a.key, api.CompleteRequest{Attempt: 1, Usage: &max}, 200, nil)
		var cost api.CostReport
		b.call("GET", "/v1/admin/costs", b.admin, nil, 200, &cost)
	})
}

var pathParam = regexp.MustCompile(`\{[a-z]+\}`)

// NUL bytes and invalid UTF-8 in ids, filters, names and stored headers are
// 400/422 on every route, on every store (PostgreSQL answered 500).
func TestUnstorableTextIsRefused(t *testing.T) {
	t.Parallel()
	onEveryStore(t, func(t *testing.T, b *bundle) {
		a := b.newTenant("acme")
		for _, rt := range b.srv.routeTable() {
			for _, bad := range []string{"x%00y", "%ff"} {
				if pathParam.MatchString(rt.path) {
					path := pathParam.ReplaceAllString(rt.path, bad)
					t.Run(rt.method+" "+path, func(t *testing.T) {
						wantProblem(t, b.req(rt.method, path, a.key, ""), 400, api.CodeInvalidRequest)
					})
				}
				for _, q := range rt.query {
					path := pathParam.ReplaceAllString(rt.path, "x") + "?" + q + "=" + bad
					t.Run(rt.method+" "+path, func(t *testing.T) {
						wantProblem(t, b.req(rt.method, path, a.key, ""), 400, api.CodeInvalidRequest)
					})
				}
			}
		}
		for _, h := range storedHeaders {
			wantProblem(t, b.req("POST", "/v1/tasks", a.key, `{}`, h, "k\xff"), 400, api.CodeInvalidRequest)
			wantProblem(t, b.req("GET", "/v1/tasks", a.key, "", h, "k\xff"), 400, api.CodeInvalidRequest)
		}
		task := b.submit(a.key, api.SubmitTaskRequest{}, "", 201)
		bodies := []struct{ method, path, cred, body, field string }{
			{"POST", "/v1/workspaces", b.admin, `{"name":"a\u0000b"}`, "name"},
			{"PATCH", "/v1/workspaces/" + a.ws.ID, b.admin, `{"name":"a\u0000b"}`, "name"},
			{"PATCH", "/v1/workspaces/" + a.ws.ID, b.admin, `{"tier":"a\u0000b"}`, "tier"},
			{"POST", "/v1/keys", a.key, `{"name":"a\u0000b","scopes":["keys:read"]}`, "name"},
			{"POST", "/v1/keys", a.key, `{"name":"k","scopes":["keys:read\u0000"]}`, "scopes[0]"},
			{"POST", "/v1/keys/" + task.ID + "/rotate", a.key, `{"grace":"1h\u0000"}`, "grace"},
			{"POST", "/v1/tasks", a.key, `{"queue":"q\u0000"}`, "queue"},
			{"POST", "/v1/tasks", a.key, `{"labels":{"team":"a\u0000b"}}`, "labels.team"},
			{"POST", "/v1/tasks/claim", a.key, `{"worker_id":"w\u0000"}`, "worker_id"},
			{"POST", "/v1/tasks/claim", a.key, `{"worker_id":"w","queues":["q\u0000"]}`, "queues[0]"},
		}
		for _, c := range bodies {
			t.Run(fmt.Sprintf("%s %s %s", c.method, c.path, c.field), func(t *testing.T) {
				p := wantProblem(t, b.req(c.method, c.path, c.cred, c.body), 422, api.CodeValidationFailed)
				if len(p.Errors) == 0 || p.Errors[0].Field != c.field {
					t.Fatalf("errors = %+v, want field %s", p.Errors, c.field)
				}
			})
		}
		// Log lines and error messages of agents are cleaned by the store,
		// not refused: the agent's logs and outcome are not lost.
		b.claim(a.key)
		b.call("POST", "/v1/tasks/"+task.ID+"/logs", a.key, api.LogsRequest{Attempt: 1, Lines: []string{"a\x00b"}}, 204, nil)
		b.call("POST", "/v1/tasks/"+task.ID+"/fail", a.key, api.FailRequest{Attempt: 1, Error: "a\x00b"}, 200, nil)
	})
}
