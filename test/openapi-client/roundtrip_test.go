// Package openapiclient tests baton's OpenAPI document the way a user
// would: through a client that oapi-codegen generated from it
// (./batonclient), against a real `baton dev` on SQLite and a real
// `baton worker run`. It is a module of its own so that the product module
// gains no dependency on oapi-codegen.
package openapiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bc "github.com/genericcorp/baton/test/openapi-client/batonclient"
)

// repoRoot is the product module, two levels up.
const repoRoot = "../.."

// The echo agent: its stdin (the task's input) is its output; it logs one
// line and reports usage on stderr (the worker's agent protocol).
const echoAgent = `echo echoing >&2; echo '::baton usage tokens=7 cost_usd=0.0042' >&2; cat`

const (
	echoQueue = "oapi-echo" // served by the echo worker
	idleQueue = "oapi-idle" // served by nobody: its tasks stay queued
)

// TestGeneratedClientRoundTrip submits, lists, gets, watches, cancels and
// reads usage through the generated client only, asserting on its typed
// values.
func TestGeneratedClientRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	baton := buildBaton(t)
	dir := t.TempDir()
	url, key := startDev(ctx, t, baton, dir)
	startWorker(t, baton, dir, url, key)

	c, err := bc.NewClientWithResponses(url, bc.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}

	// Submit with an object input and an idempotency key: 201, then the
	// replay is 200 with the same task, and the key with another body 409.
	input := map[string]any{"prompt": "hello", "n": 3.0, "tags": []any{"a", "b"}}
	labels := map[string]string{"suite": "openapi"}
	submit := bc.SubmitTaskRequest{Queue: new(echoQueue), Input: &input, Labels: &labels, MaxAttempts: new(1)}
	idem := bc.IdempotencyKey("oapi-round-trip-1")
	sub, err := c.TasksSubmitWithResponse(ctx, &bc.TasksSubmitParams{IdempotencyKey: &idem}, submit)
	if err != nil {
		t.Fatal(err)
	}
	if sub.StatusCode() != http.StatusCreated || sub.JSON201 == nil {
		t.Fatalf("submit: %d %s", sub.StatusCode(), sub.Body)
	}
	task := *sub.JSON201
	if !task.Status.Valid() || task.Queue != echoQueue || task.Labels["suite"] != "openapi" || task.MaxAttempts != 1 {
		t.Errorf("submitted task: status %q queue %q labels %v max_attempts %d", task.Status, task.Queue, task.Labels, task.MaxAttempts)
	}
	if got, ok := task.Input.(map[string]any); !ok || !reflect.DeepEqual(got, input) {
		t.Errorf("input = %#v (%T), want the object %v", task.Input, task.Input, input)
	}
	if task.IdempotencyKey == nil || *task.IdempotencyKey != string(idem) || task.CreatedAt.IsZero() {
		t.Errorf("idempotency_key %v, created_at %v", task.IdempotencyKey, task.CreatedAt)
	}
	h := sub.HTTPResponse.Header
	if h.Get("X-Request-Id") == "" || h.Get("RateLimit-Policy") == "" || h.Get("RateLimit") == "" {
		t.Errorf("submit headers: %v", h)
	}
	replay, err := c.TasksSubmitWithResponse(ctx, &bc.TasksSubmitParams{IdempotencyKey: &idem}, submit)
	if err != nil {
		t.Fatal(err)
	}
	if replay.StatusCode() != http.StatusOK || replay.JSON200 == nil || replay.JSON200.Id != task.Id {
		t.Errorf("replay: %d %s, want 200 with task %s", replay.StatusCode(), replay.Body, task.Id)
	}
	other := submit
	other.Priority = new(5)
	clash, err := c.TasksSubmitWithResponse(ctx, &bc.TasksSubmitParams{IdempotencyKey: &idem}, other)
	if err != nil {
		t.Fatal(err)
	}
	if clash.ApplicationproblemJSON409 == nil || clash.ApplicationproblemJSON409.Code != bc.ProblemCodeConflict {
		t.Errorf("same key, other body: %d %s, want a 409 conflict", clash.StatusCode(), clash.Body)
	}

	// Watch it finish on the event stream (Accept: text/event-stream).
	events, end := watch(ctx, t, c, task.Id)
	if end.Status != bc.StreamEndStatusSucceeded {
		t.Fatalf("stream ended with %q; events %+v", end.Status, events)
	}
	var sawLog, sawSucceeded bool
	for i, ev := range events {
		if !ev.Type.Valid() || ev.Seq != int64(i+1) {
			t.Errorf("event %d: type %q seq %d", i, ev.Type, ev.Seq)
		}
		sawLog = sawLog || ev.Type == bc.TaskEventTypeLog && ev.Message == "echoing"
		sawSucceeded = sawSucceeded || ev.Type == bc.TaskEventTypeState && ev.Status != nil && *ev.Status == bc.TaskEventStatusSucceeded
	}
	if !sawLog || !sawSucceeded {
		t.Errorf("events lack the agent's log line or the succeeded state: %+v", events)
	}
	// The same events as a JSON listing, paged with after.
	list, err := c.TasksEventsWithResponse(ctx, task.Id, &bc.TasksEventsParams{After: new(int64(1))})
	if err != nil {
		t.Fatal(err)
	}
	if list.JSON200 == nil || len(list.JSON200.Data) != len(events)-1 || list.JSON200.NextCursor != nil {
		t.Errorf("events after 1: %d %s, want %d events", list.StatusCode(), list.Body, len(events)-1)
	}

	// Get it: succeeded, the output is the input echoed, usage and the
	// attempt typed.
	got, err := c.TasksGetWithResponse(ctx, task.Id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.JSON200 == nil {
		t.Fatalf("get: %d %s", got.StatusCode(), got.Body)
	}
	done := *got.JSON200
	if done.Status != bc.TaskStatusSucceeded || done.FinishedAt == nil || done.StartedAt == nil || done.Attempt != 1 {
		t.Errorf("finished task: status %q finished_at %v started_at %v attempt %d", done.Status, done.FinishedAt, done.StartedAt, done.Attempt)
	}
	if out, ok := done.Output.(map[string]any); !ok || !reflect.DeepEqual(out, input) {
		t.Errorf("output = %#v (%T), want the input echoed", done.Output, done.Output)
	}
	if done.Usage.Tokens != 7 || done.Usage.CostMicros != 4200 {
		t.Errorf("usage = %+v, want 7 tokens and 4200 micro-dollars", done.Usage)
	}
	if done.Attempts == nil || len(*done.Attempts) != 1 || (*done.Attempts)[0].Status != bc.AttemptStatusSucceeded || (*done.Attempts)[0].WorkerId != "oapi-echo" {
		t.Errorf("attempts = %+v", done.Attempts)
	}

	// Another task, on a queue nobody serves: queued until cancelled; a
	// second cancel is a 409.
	idle, err := c.TasksSubmitWithResponse(ctx, nil, bc.SubmitTaskRequest{Queue: new(idleQueue), Labels: &labels})
	if err != nil {
		t.Fatal(err)
	}
	if idle.JSON201 == nil || idle.JSON201.Status != bc.TaskStatusQueued || idle.JSON201.Output != nil {
		t.Fatalf("idle submit: %d %s", idle.StatusCode(), idle.Body)
	}
	if in, ok := idle.JSON201.Input.(map[string]any); !ok || len(in) != 0 {
		t.Errorf("a submit without input stores {}: got %#v", idle.JSON201.Input)
	}
	cancelled, err := c.TasksCancelWithResponse(ctx, idle.JSON201.Id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cancelled.JSON200 == nil || cancelled.JSON200.Status != bc.TaskStatusCancelled || !strings.HasPrefix(cancelled.JSON200.StatusReason, "cancelled by ") {
		t.Errorf("cancel: %d %s", cancelled.StatusCode(), cancelled.Body)
	}
	again, err := c.TasksCancelWithResponse(ctx, idle.JSON201.Id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.ApplicationproblemJSON409 == nil || again.ApplicationproblemJSON409.Code != bc.ProblemCodeConflict {
		t.Errorf("second cancel: %d %s, want a 409 conflict", again.StatusCode(), again.Body)
	}

	// List: by queue and status, by label, and page by page.
	st := bc.TasksListParamsStatus(bc.TaskStatusSucceeded)
	byQueue, err := c.TasksListWithResponse(ctx, &bc.TasksListParams{Queue: new(echoQueue), Status: &st})
	if err != nil {
		t.Fatal(err)
	}
	if byQueue.JSON200 == nil || len(byQueue.JSON200.Data) != 1 || byQueue.JSON200.Data[0].Id != task.Id || byQueue.JSON200.NextCursor != nil {
		t.Errorf("list queue=%s status=succeeded: %d %s", echoQueue, byQueue.StatusCode(), byQueue.Body)
	}
	var pages [][]string
	var cursor *string
	for range 5 { // two tasks carry the label: two pages of one, then the end
		page, err := c.TasksListWithResponse(ctx, &bc.TasksListParams{Label: &[]string{"suite=openapi"}, Limit: new(bc.Limit(1)), Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if page.JSON200 == nil {
			t.Fatalf("list page: %d %s", page.StatusCode(), page.Body)
		}
		var ids []string
		for _, tk := range page.JSON200.Data {
			ids = append(ids, tk.Id)
		}
		pages = append(pages, ids)
		if cursor = page.JSON200.NextCursor; cursor == nil {
			break
		}
	}
	// Newest first; the last page may be empty.
	if len(pages) < 2 || !reflect.DeepEqual(pages[0], []string{idle.JSON201.Id}) || !reflect.DeepEqual(pages[1], []string{task.Id}) ||
		len(pages) == 3 && len(pages[2]) != 0 || len(pages) > 3 {
		t.Errorf("label pages = %v, want [[%s] [%s]]", pages, idle.JSON201.Id, task.Id)
	}

	// Usage: the echo task's tokens and execution are in this hour's
	// series and the totals; the quota snapshot is typed.
	hour := bc.UsageSeriesParamsGranularityHour
	usage, err := c.UsageSeriesWithResponse(ctx, &bc.UsageSeriesParams{Granularity: &hour})
	if err != nil {
		t.Fatal(err)
	}
	if usage.JSON200 == nil {
		t.Fatalf("usage: %d %s", usage.StatusCode(), usage.Body)
	}
	u := *usage.JSON200
	if u.Granularity != bc.UsageSeriesGranularityHour || u.WorkspaceId != task.WorkspaceId || !u.From.Before(u.To) {
		t.Errorf("usage: granularity %q workspace %q from %v to %v", u.Granularity, u.WorkspaceId, u.From, u.To)
	}
	if u.Totals["tokens"] != 7 || u.Totals["cost_micros"] != 4200 || u.Totals["task_executions"] != 1 {
		t.Errorf("usage totals = %v, want 7 tokens, 4200 micro-dollars, 1 execution", u.Totals)
	}
	if pts := u.Series["tokens"]; len(pts) != 1 || pts[0].Value != 7 || pts[0].Start.After(time.Now()) {
		t.Errorf("tokens series = %+v", pts)
	}
	quota, err := c.UsageQuotaWithResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if quota.JSON200 == nil || !quota.JSON200.Status.Valid() || quota.JSON200.Tier != "pro" || len(quota.JSON200.Metrics) == 0 {
		t.Fatalf("quota: %d %s", quota.StatusCode(), quota.Body)
	}
	for _, m := range quota.JSON200.Metrics {
		if !m.Name.Valid() {
			t.Errorf("quota metric %q is not in the document's enum", m.Name)
		}
		if m.Name == bc.QuotaMetricNameTaskExecutions && m.Used != 1 {
			t.Errorf("task_executions used = %d, want 1", m.Used)
		}
	}
}

// TestGeneratedClientSeesTheBodyRules: request bodies refuse unknown
// fields (additionalProperties: false) with a 400 naming the field, an
// input that is not an object is a 422 naming input, and the server reads
// a body as JSON whatever its Content-Type says (it never answers 415).
func TestGeneratedClientSeesTheBodyRules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	baton := buildBaton(t)
	url, key := startDev(ctx, t, baton, t.TempDir())
	c, err := bc.NewClientWithResponses(url, bc.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	send := func(contentType, body string) *bc.TasksSubmitResponse {
		t.Helper()
		r, err := c.TasksSubmitWithBodyWithResponse(ctx, nil, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	unknown := send("application/json", `{"queue": "`+idleQueue+`", "priorty": 1}`)
	if p := unknown.ApplicationproblemJSON400; p == nil || p.Code != bc.ProblemCodeInvalidRequest || p.Errors == nil ||
		len(*p.Errors) != 1 || (*p.Errors)[0].Field != "priorty" {
		t.Errorf("unknown field: %d %s, want a 400 naming priorty", unknown.StatusCode(), unknown.Body)
	}
	array := send("application/json", `{"queue": "`+idleQueue+`", "input": [1, 2]}`)
	if p := array.ApplicationproblemJSON422; p == nil || p.Code != bc.ProblemCodeValidationFailed || p.Errors == nil || (*p.Errors)[0].Field != "input" {
		t.Errorf("array input: %d %s, want a 422 naming input", array.StatusCode(), array.Body)
	}
	plain := send("text/plain", `{"queue": "`+idleQueue+`", "input": {"a": 1}}`)
	if plain.JSON201 == nil || plain.JSON201.Queue != idleQueue {
		t.Errorf("text/plain body: %d %s, want 201 (the Content-Type is not checked)", plain.StatusCode(), plain.Body)
	}
}

// watch follows a task's event stream to its end event.
func watch(ctx context.Context, t *testing.T, c *bc.ClientWithResponses, id string) ([]bc.TaskEvent, bc.StreamEnd) {
	t.Helper()
	resp, err := c.TasksEvents(ctx, id, &bc.TasksEventsParams{}, func(_ context.Context, r *http.Request) error {
		r.Header.Set("Accept", "text/event-stream")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("event stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var (
		events     []bc.TaskEvent
		name, data string
	)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && name == "end":
			var end bc.StreamEnd
			if err := json.Unmarshal([]byte(data), &end); err != nil || !end.Status.Valid() {
				t.Fatalf("end event %q: %v", data, err)
			}
			return events, end
		case line == "" && data != "":
			var ev bc.TaskEvent
			if err := json.Unmarshal([]byte(data), &ev); err != nil || string(ev.Type) != name {
				t.Fatalf("event %s %q: %v", name, data, err)
			}
			events = append(events, ev)
			name, data = "", ""
		}
	}
	t.Fatalf("the stream closed without an end event (%v); events %+v", sc.Err(), events)
	return nil, bc.StreamEnd{}
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
	buildDir  string
)

// buildBaton builds the baton binary from the product module, once.
func buildBaton(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "baton-openapi-client-")
		if buildErr != nil {
			return
		}
		binary = filepath.Join(buildDir, "baton")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/baton")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/baton: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// env is this process's environment without BATON_ variables (a
// developer's profile or server settings), plus extra.
func env(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BATON_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

var runningAt = regexp.MustCompile(`baton dev is running at (http://127\.0\.0\.1:\d+)`)

// startDev runs `baton dev` on a port the kernel picks, in dir, and
// returns its URL (from the line dev prints) and the workspace key it
// keeps in DATA_DIR/dev-credentials.json.
func startDev(ctx context.Context, t *testing.T, baton, dir string) (url, key string) {
	t.Helper()
	data := filepath.Join(dir, "data")
	cmd := exec.Command(baton, "dev", "--data-dir", data, "--listen", "127.0.0.1:0")
	cmd.Env = env("HOME="+dir, "BATON_CONFIG="+filepath.Join(dir, "config.yaml"))
	found := make(chan string, 1)
	log := &syncBuffer{onWrite: func(all string) {
		if m := runningAt.FindStringSubmatch(all); m != nil {
			select {
			case found <- m[1]:
			default:
			}
		}
	}}
	cmd.Stderr = log
	stop := startProcess(t, "baton dev", cmd, log)
	select {
	case url = <-found:
	case <-stop:
		t.Fatalf("baton dev exited before it was ready:\n%s", log.String())
	case <-ctx.Done():
		t.Fatalf("baton dev did not say it was running:\n%s", log.String())
	}
	raw, err := os.ReadFile(filepath.Join(data, "dev-credentials.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds struct {
		WorkspaceKey string `json:"workspace_key"`
	}
	if err := json.Unmarshal(raw, &creds); err != nil || creds.WorkspaceKey == "" {
		t.Fatalf("dev-credentials.json: %v %s", err, raw)
	}
	return url, creds.WorkspaceKey
}

// startWorker runs `baton worker run` with the echo agent on echoQueue.
func startWorker(t *testing.T, baton, dir, url, key string) {
	t.Helper()
	cmd := exec.Command(baton, "worker", "run", "--queue", echoQueue, "--worker-id", "oapi-echo", "--", "sh", "-c", echoAgent)
	cmd.Env = env("HOME="+dir, "BATON_CONFIG="+filepath.Join(dir, "worker-config.yaml"), "BATON_SERVER="+url, "BATON_API_KEY="+key)
	log := &syncBuffer{}
	cmd.Stderr = log
	startProcess(t, "baton worker run", cmd, log)
}

// startProcess starts cmd and, at cleanup, stops it with SIGTERM (SIGKILL
// if it has not exited 20 s later), logging its output if the test
// failed. The channel is closed when the process exits.
func startProcess(t *testing.T, name string, cmd *exec.Cmd, log *syncBuffer) <-chan struct{} {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, log.String())
		}
	})
	return exited
}

// syncBuffer keeps a process's output; onWrite (if set) sees all of it
// after each write.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	onWrite func(all string)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.onWrite != nil {
		s.onWrite(s.b.String())
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
