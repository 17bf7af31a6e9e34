// Package agenttest is a fake of the step endpoint that `baton worker run`
// serves each attempt (pkg/agent's protocol), for testing agents without a
// server or a worker: a journal in memory with the server's replay rules,
// signals, children, a budget switch, and what the agent emitted and
// reported.
//
//	f := agenttest.New(t)
//	ctx := agent.WithClient(ctx, f.Client())
//	// run the agent's code; then f.NextAttempt() and run it again: the
//	// recorded steps replay.
package agenttest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
)

// Token is the fake's bearer token.
const Token = "agenttest-token"

// TaskID is the task the fake's attempts belong to.
const TaskID = "task_agenttest"

// Step is one journal entry of the fake.
type Step struct {
	Key, Kind, Status string
	Output            json.RawMessage
	Error             string
	Runs              int    // times a run step was begun
	InputHash         string // of its first begin
	AtMostOnce        bool
	Signal            string // a wait's signal
	Child             string // a spawn's child task id
	Usage             api.UsageReport
	attempt           int // the attempt that began it last
}

// Fake is the endpoint. Its methods are safe for concurrent use.
type Fake struct {
	srv *httptest.Server

	mu       sync.Mutex
	attempt  int
	seen     map[string]int // key → begins in this attempt (KEY#n)
	order    []string
	steps    map[string]*Step
	signals  map[string][]json.RawMessage
	children map[string]*child
	timeouts map[string]bool // wait keys whose timeout passed
	budget   string          // a reason: run begins suspend while set
	ended    *agent.Answer   // the attempt is over (suspend or stop)
	emitted  []string
	usage    api.UsageReport // the attempt's totals
	open     string          // the run step that is open
	calls    []string
}

type child struct {
	queue  string
	input  json.RawMessage
	done   bool
	output json.RawMessage
	err    string
}

// New starts a fake for attempt 1, closed when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{attempt: 1, seen: map[string]int{}, steps: map[string]*Step{}, signals: map[string][]json.RawMessage{},
		children: map[string]*child{}, timeouts: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agent.PathBegin, f.handle(f.begin))
	mux.HandleFunc("POST "+agent.PathEnd, f.handle(f.end))
	mux.HandleFunc("POST "+agent.PathSleep, f.handle(f.sleep))
	mux.HandleFunc("POST "+agent.PathWait, f.handle(f.wait))
	mux.HandleFunc("POST "+agent.PathSpawn, f.handle(f.spawn))
	mux.HandleFunc("POST "+agent.PathEmit, f.handle(f.emit))
	mux.HandleFunc("POST "+agent.PathUsage, f.handle(f.report))
	mux.HandleFunc("GET "+agent.PathInfo, f.handle(f.info))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// URL is the endpoint's base URL (BATON_STEP_URL).
func (f *Fake) URL() string { return f.srv.URL }

// Env is the attempt's environment: BATON_STEP_URL and BATON_STEP_TOKEN.
func (f *Fake) Env() []string {
	return []string{agent.EnvStepURL + "=" + f.srv.URL, agent.EnvStepToken + "=" + Token}
}

// Client is a pkg/agent client of the fake.
func (f *Fake) Client() *agent.Client { return agent.NewClient(f.srv.URL, Token, f.srv.Client()) }

// NextAttempt starts the next attempt: the journal stays, a step left
// running is now one whose attempt died, the attempt's usage starts at 0.
func (f *Fake) NextAttempt() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempt++
	f.seen, f.ended, f.usage, f.open = map[string]int{}, nil, api.UsageReport{}, ""
}

// Attempt is the attempt's number.
func (f *Fake) Attempt() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempt
}

// Signal delivers a signal: the next wait for name answers data.
func (f *Fake) Signal(name, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals[name] = append(f.signals[name], json.RawMessage(data))
}

// TimeOut makes the wait step key time out (as its timer passing would).
func (f *Fake) TimeOut(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.timeouts[key] = true
}

// EndChild ends the child task id with output (succeeded), or errMsg when
// not empty (failed): a spawn that waits for it answers, and the signal
// api.ChildSignal(id) comes, as the server delivers it (once).
func (f *Fake) EndChild(id, output, errMsg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.children[id]
	if c == nil || c.done {
		return
	}
	c.done, c.output, c.err = true, json.RawMessage(output), errMsg
	o := api.ChildOutcome{TaskID: id, Status: api.TaskSucceeded, Output: c.output}
	if errMsg != "" {
		o.Status, o.Output, o.Error = api.TaskFailed, nil, errMsg
	}
	if len(o.Output) == 0 {
		o.Output = json.RawMessage("null")
	}
	data, err := json.Marshal(o)
	if err != nil {
		panic(fmt.Sprintf("agenttest: EndChild %s: output %q is not JSON", id, output))
	}
	name := api.ChildSignal(id)
	f.signals[name] = append(f.signals[name], data)
}

// Children are the ids of the children spawned, in order.
func (f *Fake) Children() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for i := 1; i <= len(f.children); i++ {
		ids = append(ids, childID(i))
	}
	return ids
}

// ChildInput is the input a child was spawned with.
func (f *Fake) ChildInput(id string) (queue string, input json.RawMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.children[id]; c != nil {
		return c.queue, c.input
	}
	return "", nil
}

// SetBudget makes every run step's begin suspend with reason (the task
// waits for budget) while reason is not "".
func (f *Fake) SetBudget(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.budget = reason
}

// Stop makes the attempt over (cancelled): every call answers stop.
func (f *Fake) Stop(reason string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended = &agent.Answer{Action: api.ActionStop, Reason: reason}
}

// Step is the journal's entry for key (nil when absent).
func (f *Fake) Step(key string) *Step {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.steps[key]; s != nil {
		c := *s
		return &c
	}
	return nil
}

// Keys are the journal's keys in the order first begun.
func (f *Fake) Keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// Emitted are the lines emitted, "[CHANNEL] " before each with a channel
// (as `baton tasks logs` prints the stream events the supervisor makes).
func (f *Fake) Emitted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.emitted...)
}

// Usage is the attempt's usage totals.
func (f *Fake) Usage() api.UsageReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.usage
}

// Calls are the endpoint paths called with their keys ("/begin fetch"),
// in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

type httpError struct {
	status int
	code   api.Code
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func failf(status int, code api.Code, format string, args ...any) error {
	return &httpError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

// handle checks the token, decodes the body and answers fn's value as the
// supervisor's endpoint does.
func (f *Fake) handle(fn func(body json.RawMessage) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(Token)) != 1 {
			write(w, http.StatusUnauthorized, map[string]string{"code": string(api.CodeUnauthenticated), "error": "bad or missing step token"})
			return
		}
		var body json.RawMessage
		if r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
				write(w, http.StatusBadRequest, map[string]string{"code": string(api.CodeInvalidRequest), "error": "body: " + err.Error()})
				return
			}
		}
		f.mu.Lock()
		out, err := fn(body)
		f.mu.Unlock()
		if err != nil {
			he, ok := err.(*httpError)
			if !ok {
				he = &httpError{status: http.StatusBadRequest, code: api.CodeInvalidRequest, msg: err.Error()}
			}
			write(w, he.status, map[string]string{"code": string(he.code), "error": he.msg})
			return
		}
		write(w, http.StatusOK, out)
	}
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decode[T any](body json.RawMessage) (T, error) {
	var v T
	err := json.Unmarshal(body, &v)
	return v, err
}

// journalKey numbers a key repeated within the attempt (KEY#2 …).
func (f *Fake) journalKey(key string) string {
	f.seen[key]++
	if n := f.seen[key]; n > 1 {
		return fmt.Sprintf("%s#%d", key, n)
	}
	return key
}

// suspend ends the attempt with a suspend answer.
func (f *Fake) suspend(key, reason string) agent.Answer {
	a := agent.Answer{Action: api.ActionSuspend, Key: key, Reason: reason}
	f.ended = &a
	return a
}

// record adds a new journal entry.
func (f *Fake) record(s *Step) *Step {
	s.attempt = f.attempt
	f.steps[s.Key] = s
	f.order = append(f.order, s.Key)
	return s
}

// beginStep is the server's begin of any kind: the recorded outcome, a
// kind or input that changed, or a new entry (ok false).
func (f *Fake) beginStep(key, kind, hash string) (*Step, agent.Answer, bool, error) {
	if key == "" {
		return nil, agent.Answer{}, true, failf(http.StatusBadRequest, api.CodeInvalidRequest, "a step needs a key")
	}
	f.calls = append(f.calls, "begin "+key)
	if f.ended != nil {
		return nil, *f.ended, true, nil
	}
	jk := f.journalKey(key)
	s := f.steps[jk]
	base := agent.Answer{Key: jk, IdempotencyKey: TaskID + "/" + jk}
	if s == nil {
		return nil, base, false, nil
	}
	if s.Kind != kind || (hash != "" && s.InputHash != "" && hash != s.InputHash) {
		return nil, agent.Answer{}, true, failf(http.StatusConflict, api.CodeConflict, "step %s was recorded as %s with another input: the program is not deterministic", jk, s.Kind)
	}
	if s.Status == api.StepSucceeded || s.Status == api.StepFailed {
		base.Action, base.Output, base.Error = api.ActionDone, s.Output, s.Error
		return s, base, true, nil
	}
	return s, base, false, nil
}

func (f *Fake) begin(body json.RawMessage) (any, error) {
	r, err := decode[agent.BeginRequest](body)
	if err != nil {
		return nil, err
	}
	s, a, done, err := f.beginStep(r.Key, api.StepRun, r.InputHash)
	if err != nil || done {
		return a, err
	}
	if f.budget != "" {
		return f.suspend(a.Key, "budget: "+f.budget), nil
	}
	if s == nil {
		s = f.record(&Step{Key: a.Key, Kind: api.StepRun, InputHash: r.InputHash, AtMostOnce: r.AtMostOnce})
	} else if s.attempt != f.attempt {
		if s.AtMostOnce {
			return f.suspend(a.Key, "operator: at-most-once step "+a.Key+" was in flight when its attempt died"), nil
		}
		a.PreviousOutcome = api.PreviousOutcomeUnknown
	}
	s.Status, s.Runs, s.attempt = api.StepRunning, s.Runs+1, f.attempt
	f.open = a.Key
	a.Action = api.ActionRun
	return a, nil
}

func (f *Fake) end(body json.RawMessage) (any, error) {
	r, err := decode[agent.EndRequest](body)
	if err != nil {
		return nil, err
	}
	f.calls = append(f.calls, "end "+r.Key)
	if f.ended != nil {
		return *f.ended, nil
	}
	s := f.steps[r.Key]
	if s == nil || s.Status != api.StepRunning || s.attempt != f.attempt {
		return nil, failf(http.StatusConflict, api.CodeConflict, "step %s is not running in this attempt", r.Key)
	}
	if len(r.Output) > api.MaxStepOutputBytes {
		return nil, failf(http.StatusBadRequest, api.CodeInvalidRequest, "output: %d bytes; the limit is %d", len(r.Output), api.MaxStepOutputBytes)
	}
	if r.Usage != nil {
		f.addUsage(*r.Usage)
	}
	s.Status, s.Output, s.Error = api.StepSucceeded, r.Output, r.Error
	if r.Error != "" {
		s.Status, s.Output = api.StepFailed, nil
	}
	f.open = ""
	return agent.Answer{Action: api.ActionDone, Key: r.Key}, nil
}

// sleep: a short sleep is a run step done at once (the fake does not
// sleep); a longer one suspends until NextAttempt, which finds it done.
func (f *Fake) sleep(body json.RawMessage) (any, error) {
	r, err := decode[agent.SleepRequest](body)
	if err != nil {
		return nil, err
	}
	if r.DurationMS < 0 {
		return nil, failf(http.StatusBadRequest, api.CodeInvalidRequest, "a sleep's duration must not be negative")
	}
	out, _ := json.Marshal(map[string]int64{"slept_ms": r.DurationMS})
	short := r.DurationMS <= agent.MaxShortSleepSeconds*1000
	kind := api.StepSleep
	if short {
		kind = api.StepRun
	}
	s, a, done, err := f.beginStep(r.Key, kind, fmt.Sprintf("sleep %dms", r.DurationMS))
	if err != nil || done {
		return a, err
	}
	if s == nil {
		s = f.record(&Step{Key: a.Key, Kind: kind, InputHash: fmt.Sprintf("sleep %dms", r.DurationMS)})
	}
	if short || s.attempt != f.attempt {
		s.Status, s.Output = api.StepSucceeded, out
		a.Action, a.Output = api.ActionDone, out
		return a, nil
	}
	s.Status = api.StepWaiting
	return f.suspend(a.Key, api.WaitSleep), nil
}

func (f *Fake) wait(body json.RawMessage) (any, error) {
	r, err := decode[agent.WaitRequest](body)
	if err != nil {
		return nil, err
	}
	if r.Signal == "" || r.TimeoutSeconds < 0 {
		return nil, failf(http.StatusBadRequest, api.CodeInvalidRequest, "a wait needs a signal name and a timeout ≥ 0")
	}
	s, a, done, err := f.beginStep(r.Key, api.StepWait, "")
	if err != nil || done {
		return a, err
	}
	if s == nil {
		s = f.record(&Step{Key: a.Key, Kind: api.StepWait, Signal: r.Signal})
	}
	switch q := f.signals[r.Signal]; {
	case len(q) > 0:
		s.Status, s.Output = api.StepSucceeded, q[0]
		f.signals[r.Signal] = q[1:]
		a.Action, a.Output = api.ActionDone, q[0]
	case f.timeouts[a.Key]:
		s.Status, s.Error = api.StepFailed, "timeout"
		a.Action, a.Error = api.ActionDone, "timeout"
	default:
		s.Status = api.StepWaiting
		return f.suspend(a.Key, "signal: "+r.Signal), nil
	}
	return a, nil
}

func childID(n int) string { return fmt.Sprintf("task_child%d", n) }

func (f *Fake) spawn(body json.RawMessage) (any, error) {
	r, err := decode[agent.SpawnRequest](body)
	if err != nil {
		return nil, err
	}
	s, a, done, err := f.beginStep(r.Key, api.StepSpawn, "")
	if err != nil || done {
		return a, err
	}
	if s == nil {
		id := childID(len(f.children) + 1)
		f.children[id] = &child{queue: r.Queue, input: r.Input}
		s = f.record(&Step{Key: a.Key, Kind: api.StepSpawn, Child: id})
	}
	c := f.children[s.Child]
	switch {
	case !r.Wait:
		s.Status, s.Output = api.StepSucceeded, json.RawMessage(fmt.Sprintf(`{"task_id":%q}`, s.Child))
	case c.done && c.err != "":
		s.Status, s.Error = api.StepFailed, fmt.Sprintf("child %s %s", s.Child, c.err)
	case c.done:
		s.Status, s.Output = api.StepSucceeded, c.output
	default:
		s.Status = api.StepWaiting
		return f.suspend(a.Key, "child: "+s.Child), nil
	}
	a.Action, a.Output, a.Error = api.ActionDone, s.Output, s.Error
	return a, nil
}

func (f *Fake) emit(body json.RawMessage) (any, error) {
	r, err := decode[agent.EmitRequest](body)
	if err != nil {
		return nil, err
	}
	for _, l := range r.Lines {
		if r.Channel != "" {
			l = "[" + r.Channel + "] " + l
		}
		f.emitted = append(f.emitted, l)
	}
	return agent.Answer{Action: api.ActionDone}, nil
}

func (f *Fake) addUsage(u api.UsageReport) {
	f.usage.Tokens += u.Tokens
	f.usage.CostMicros += u.CostMicros
	if s := f.steps[f.open]; s != nil {
		s.Usage.Tokens += u.Tokens
		s.Usage.CostMicros += u.CostMicros
	}
}

func (f *Fake) report(body json.RawMessage) (any, error) {
	u, err := decode[api.UsageReport](body)
	if err != nil {
		return nil, err
	}
	if u.Tokens < 0 || u.CostMicros < 0 {
		return nil, failf(http.StatusBadRequest, api.CodeInvalidRequest, "usage must not be negative")
	}
	f.addUsage(u)
	return agent.Answer{Action: api.ActionDone}, nil
}

func (f *Fake) info(json.RawMessage) (any, error) {
	return agent.AttemptInfo{TaskID: TaskID, Attempt: f.attempt, Queue: "default", WorkspaceID: "ws_agenttest"}, nil
}
