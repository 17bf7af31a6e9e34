package supervisor

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/genericcorp/baton/pkg/agent"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// The step endpoint (docs/steps.md "The agent side"): each attempt of a
// process agent gets an HTTP endpoint on 127.0.0.1 (a random port) and a
// random token of its own (BATON_STEP_URL, BATON_STEP_TOKEN). It forwards
// step calls to the server with the attempt number (fencing) and the
// attempt's usage totals, so usage — `::baton usage` lines included — is
// charged to the step that is open. When the server answers suspend (a long
// sleep, a wait, a spawn with wait, budget) or stop, the endpoint answers the
// agent, then stops it; the attempt ends as suspended and is not reported
// (the server already ended it).

// StepAPI is what the step endpoint needs from the server; *client.Client
// has it.
type StepAPI interface {
	BeginStep(ctx context.Context, workspaceID, id, key string, req api.StepBeginRequest) (api.StepBeginResponse, error)
	EndStep(ctx context.Context, workspaceID, id, key string, req api.StepEndRequest) (api.StepEndResponse, error)
}

var _ StepAPI = (*client.Client)(nil)

// stepServer is one attempt's endpoint.
type stepServer struct {
	a     *attempt
	api   StepAPI
	token string
	url   string
	srv   *http.Server
	done  chan struct{}

	mu      sync.Mutex // one step call at a time: the server numbers repeats in call order
	ended   *api.StepBeginResponse
	pending stopKind // a stop to make once the agent has its answer
}

// startSteps serves the attempt's endpoint; nil (no endpoint) when the
// worker's API has no step calls.
func (a *attempt) startSteps() (*stepServer, error) {
	sa, ok := a.w.cfg.API.(StepAPI)
	if !ok {
		return nil, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("step endpoint: %w", err)
	}
	s := &stepServer{a: a, api: sa, token: rand.Text(), url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agent.PathBegin, s.handle(s.begin))
	mux.HandleFunc("POST "+agent.PathEnd, s.handle(s.end))
	mux.HandleFunc("POST "+agent.PathSleep, s.handle(s.sleep))
	mux.HandleFunc("POST "+agent.PathWait, s.handle(s.wait))
	mux.HandleFunc("POST "+agent.PathSpawn, s.handle(s.spawn))
	mux.HandleFunc("POST "+agent.PathEmit, s.handle(s.emit))
	mux.HandleFunc("POST "+agent.PathUsage, s.handle(s.usage))
	mux.HandleFunc("GET "+agent.PathInfo, s.handle(s.info))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln); close(s.done) }()
	return s, nil
}

// env is what the agent learns of the endpoint.
func (s *stepServer) env() []string {
	if s == nil {
		return nil
	}
	return []string{agent.EnvStepURL + "=" + s.url, agent.EnvStepToken + "=" + s.token}
}

// close stops serving (calls in flight end with the attempt's context).
func (s *stepServer) close() {
	if s == nil {
		return
	}
	_ = s.srv.Close()
	<-s.done
}

// stepError is an error the endpoint answers with its HTTP status.
type stepError struct {
	status int
	code   api.Code
	msg    string
}

func (e *stepError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &stepError{status: http.StatusBadRequest, code: api.CodeInvalidRequest, msg: fmt.Sprintf(format, args...)}
}

// handle checks the token, decodes the body into a fresh In, calls fn and
// encodes its answer (or error).
func (s *stepServer) handle(fn func(ctx context.Context, body []byte) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) != 1 {
			writeStep(w, http.StatusUnauthorized, map[string]string{"code": string(api.CodeUnauthenticated), "error": "bad or missing step token"})
			return
		}
		var body []byte
		if r.Method == http.MethodPost {
			var raw json.RawMessage
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, api.MaxStepOutputBytes+64<<10)).Decode(&raw); err != nil {
				writeStep(w, http.StatusBadRequest, map[string]string{"code": string(api.CodeInvalidRequest), "error": "body: " + err.Error()})
				return
			}
			body = raw
		}
		// The call ends with the attempt, not with the agent's connection:
		// a begin sent to the server must be answered to the attempt.
		ctx, cancel := context.WithTimeout(s.a.ctx, time.Minute)
		defer cancel()
		out, err := fn(ctx, body)
		if err != nil {
			status, code := http.StatusBadGateway, api.Code("server_error")
			var se *stepError
			var ae *client.APIError
			switch {
			case errors.As(err, &se):
				status, code = se.status, se.code
			case errors.As(err, &ae):
				status, code = ae.Status, ae.Code
			}
			writeStep(w, status, map[string]string{"code": string(code), "error": err.Error()})
			return
		}
		writeStep(w, http.StatusOK, out)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.stopPending()
	}
}

// stopPending stops the agent once it has been told the attempt is over.
func (s *stepServer) stopPending() {
	s.mu.Lock()
	kind, ended := s.pending, s.ended
	s.pending = stopNone
	s.mu.Unlock()
	if kind != stopNone {
		s.a.stop(kind, ended.Reason)
	}
}

func writeStep(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func decodeStep[T any](body []byte) (T, error) {
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		return v, badRequest("body: %v", err)
	}
	return v, nil
}

// call forwards one begin (or answers the attempt's end once it is over)
// and stops the agent when the server says the attempt is over.
func (s *stepServer) call(ctx context.Context, key string, req api.StepBeginRequest) (any, error) {
	if key == "" {
		return nil, badRequest("a step needs a key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended != nil {
		return *s.ended, nil
	}
	s.a.stderr.wait(ctx) // usage lines printed before this call count before it
	s.syncLogs(ctx, key)
	u := s.a.usageTotals()
	req.Attempt, req.Usage = s.a.t.Attempt, &u
	resp, err := s.api.BeginStep(ctx, s.a.t.WorkspaceID, s.a.t.ID, key, req)
	if err != nil {
		return nil, err
	}
	s.after(resp.Action, resp.Reason)
	return resp, nil
}

// syncLogs sends the attempt's pending lines before a step call goes to
// the server, so what the agent emitted before it lands before the step's
// events, and while the attempt still holds the task (a call that
// suspends it ends it). A failure leaves them to the shipper's loop.
func (s *stepServer) syncLogs(ctx context.Context, key string) {
	if err := s.a.logs.sync(ctx); err != nil {
		s.a.log.Warn("sending logs before a step call failed; they follow later", "key", key, "err", err)
	}
}

// after ends the attempt when action says so: suspend (the task waits) or
// stop (the attempt is over). The agent is answered first (stopPending);
// it is then stopped as a cancelled attempt would be, and nothing is
// reported. Called with s.mu held.
func (s *stepServer) after(action, reason string) {
	if action != api.ActionSuspend && action != api.ActionStop {
		return
	}
	ans := api.StepBeginResponse{Action: action, Reason: reason}
	s.ended = &ans
	s.pending = stopSuspended
	if action == api.ActionStop {
		s.pending = stopCancel
	}
	s.a.log.Info("the task must wait or stop; stopping the agent", "action", action, "reason", reason)
}

func (s *stepServer) begin(ctx context.Context, body []byte) (any, error) {
	r, err := decodeStep[agent.BeginRequest](body)
	if err != nil {
		return nil, err
	}
	return s.call(ctx, r.Key, api.StepBeginRequest{Kind: api.StepRun, AtMostOnce: r.AtMostOnce, InputHash: r.InputHash})
}

func (s *stepServer) end(ctx context.Context, body []byte) (any, error) {
	r, err := decodeStep[agent.EndRequest](body)
	if err != nil {
		return nil, err
	}
	if r.Key == "" {
		return nil, badRequest("a step needs a key")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended != nil {
		return *s.ended, nil
	}
	if r.Usage != nil {
		s.a.addUsage(*r.Usage)
	}
	s.a.stderr.wait(ctx) // usage lines printed in the step count in it
	s.syncLogs(ctx, r.Key)
	u := s.a.usageTotals()
	resp, err := s.api.EndStep(ctx, s.a.t.WorkspaceID, s.a.t.ID, r.Key, api.StepEndRequest{Attempt: s.a.t.Attempt,
		Output: r.Output, Error: r.Error, Usage: &u})
	if err != nil {
		return nil, err
	}
	s.after(resp.Action, resp.Reason)
	return agent.Answer{Action: resp.Action, Key: r.Key, Reason: resp.Reason}, nil
}

// sleep records a sleep. One of at most MaxShortSleepSeconds blocks in
// place: it is a run step (recorded once slept, so a replay does not sleep
// again); a longer one is a sleep step that suspends the task until then.
func (s *stepServer) sleep(ctx context.Context, body []byte) (any, error) {
	r, err := decodeStep[agent.SleepRequest](body)
	if err != nil {
		return nil, err
	}
	if r.DurationMS < 0 {
		return nil, badRequest("a sleep's duration must not be negative")
	}
	d := time.Duration(r.DurationMS) * time.Millisecond
	if d > agent.MaxShortSleepSeconds*time.Second {
		until := time.Now().Add(d).UTC()
		return s.call(ctx, r.Key, api.StepBeginRequest{Kind: api.StepSleep, Until: &until})
	}
	hash := fmt.Sprintf("sleep %dms", r.DurationMS)
	got, err := s.call(ctx, r.Key, api.StepBeginRequest{Kind: api.StepRun, InputHash: hash})
	if err != nil {
		return nil, err
	}
	ans := got.(api.StepBeginResponse)
	if ans.Action != api.ActionRun {
		return ans, nil
	}
	if err := s.a.w.cfg.sleep(ctx, d); err != nil {
		return nil, &stepError{status: http.StatusServiceUnavailable, code: "stopped", msg: "the attempt stopped during the sleep"}
	}
	out, _ := json.Marshal(map[string]int64{"slept_ms": r.DurationMS})
	end, _ := json.Marshal(agent.EndRequest{Key: ans.Key, Output: out})
	if _, err := s.end(ctx, end); err != nil {
		return nil, err
	}
	return api.StepBeginResponse{Action: api.ActionDone, Key: ans.Key, Output: out}, nil
}

func (s *stepServer) wait(ctx context.Context, body []byte) (any, error) {
	r, err := decodeStep[agent.WaitRequest](body)
	if err != nil {
		return nil, err
	}
	if r.Signal == "" || r.TimeoutSeconds < 0 {
		return nil, badRequest("a wait needs a signal name and a timeout ≥ 0")
	}
	return s.call(ctx, r.Key, api.StepBeginRequest{Kind: api.StepWait, Signal: r.Signal, TimeoutSeconds: r.TimeoutSeconds})
}

func (s *stepServer) spawn(ctx context.Context, body []byte) (any, error) {
	r, err := decodeStep[agent.SpawnRequest](body)
	if err != nil {
		return nil, err
	}
	return s.call(ctx, r.Key, api.StepBeginRequest{Kind: api.StepSpawn, Queue: r.Queue, Input: r.Input, Wait: r.Wait})
}

func (s *stepServer) emit(_ context.Context, body []byte) (any, error) {
	r, err := decodeStep[agent.EmitRequest](body)
	if err != nil {
		return nil, err
	}
	if err := api.CheckChannel(r.Channel); err != nil {
		return nil, badRequest("channel %q %v", r.Channel, err)
	}
	s.a.logs.addStream(r.Channel, r.Lines...)
	return agent.Answer{Action: api.ActionDone}, nil
}

func (s *stepServer) usage(_ context.Context, body []byte) (any, error) {
	u, err := decodeStep[api.UsageReport](body)
	if err != nil {
		return nil, err
	}
	if u.Tokens < 0 || u.CostMicros < 0 {
		return nil, badRequest("usage must not be negative")
	}
	s.a.addUsage(u)
	return agent.Answer{Action: api.ActionDone}, nil
}

func (s *stepServer) info(context.Context, []byte) (any, error) {
	t := s.a.t
	return agent.AttemptInfo{TaskID: t.ID, Attempt: t.Attempt, Queue: t.Queue, WorkspaceID: t.WorkspaceID}, nil
}
