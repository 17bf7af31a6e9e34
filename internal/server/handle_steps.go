package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Durable steps (docs/steps.md): the journal, signals, budget updates and
// retries. Handlers decode, call the task service and encode.

// validStepName checks a step key or signal name: 1–max printable
// characters (any script; no control characters), valid UTF-8.
func validStepName(field, v string, maxLen int) error {
	if v == "" || len(v) > maxLen*4 || utf8.RuneCountInString(v) > maxLen || !utf8.ValidString(v) ||
		strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return validation([]api.FieldError{{Field: field, Message: fmt.Sprintf("must be 1 to %d printable characters", maxLen)}})
	}
	if v == "/" { // no router can take it as a path segment (see loneSlashSegment)
		return validation([]api.FieldError{{Field: field, Message: `must not be a lone "/"`}})
	}
	return nil
}

// repeatNumbered reports whether a program's key ends like the journal's
// name of a repeat (KEY#2, KEY#3 …). Such a key would share that repeat's
// journal entry and idempotency key: found by FuzzStepKey, a begin of "x#2"
// after two begins of "x" ran again and overwrote the second x's outcome,
// and a provider would have deduplicated two different calls as one.
func repeatNumbered(key string) bool {
	i := strings.LastIndexByte(key, '#')
	return i > 0 && i < len(key)-1 && strings.Trim(key[i+1:], "0123456789") == ""
}

func apiStep(s store.Step) api.Step {
	out := api.Step{Key: s.Key, Kind: s.Kind, Status: s.Status, Attempts: s.Attempts, Output: s.Output, Error: s.Error,
		Usage:     api.TaskUsage{ExecutionMS: s.ExecutionMS, Tokens: s.Tokens, CostMicros: s.CostMicros},
		StartedAt: s.StartedAt, FinishedAt: s.FinishedAt}
	if len(out.Output) == 0 {
		out.Output = []byte("null")
	}
	if s.Status == api.StepWaiting || s.Kind != api.StepRun {
		reason := s.WaitReason
		if reason == "" {
			reason = map[string]string{api.StepSleep: api.WaitSleep, api.StepWait: api.WaitSignal, api.StepSpawn: api.WaitChild}[s.Kind]
		}
		out.Wait = &api.StepWaitFor{Reason: reason, Signal: s.WaitSignal, TaskID: s.ChildID, WakeAt: s.WakeAt}
	}
	return out
}

func (s *Server) handleListSteps(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	steps, err := s.tasks.ListSteps(r.Context(), p.workspaceID, id)
	if err != nil {
		return storeError(err, "task", id)
	}
	out := api.StepList{Data: make([]api.Step, len(steps))}
	for i, st := range steps {
		out.Data[i] = apiStep(st)
	}
	encode(w, http.StatusOK, out)
	return nil
}

// maxStepWait bounds a sleep's until and a wait's timeout: a year.
const maxStepWait = 366 * 24 * time.Hour

func (s *Server) validateBegin(req *api.StepBeginRequest) error {
	var errs []api.FieldError
	if req.Attempt < 1 {
		errs = append(errs, api.FieldError{Field: "attempt", Message: "must be >= 1"})
	}
	if !slices.Contains(api.StepKinds, req.Kind) {
		errs = append(errs, api.FieldError{Field: "kind", Message: "must be one of " + strings.Join(api.StepKinds, ", ")})
	}
	if len(req.InputHash) > 200 {
		errs = append(errs, api.FieldError{Field: "input_hash", Message: "at most 200 bytes"})
	}
	switch req.Kind {
	case api.StepSleep:
		if req.Until == nil || req.Until.After(s.now().Add(maxStepWait)) {
			errs = append(errs, api.FieldError{Field: "until", Message: "required, within a year"})
		}
	case api.StepWait:
		if err := validStepName("signal", req.Signal, api.MaxSignalNameLen); err != nil {
			errs = append(errs, api.FieldError{Field: "signal", Message: fmt.Sprintf("must be 1 to %d printable characters", api.MaxSignalNameLen)})
		}
		if req.TimeoutSeconds < 0 || req.TimeoutSeconds > int64(maxStepWait/time.Second) {
			errs = append(errs, api.FieldError{Field: "timeout_seconds", Message: "must be from 0 to a year"})
		}
	case api.StepSpawn:
		if req.Queue != "" && !queueName.MatchString(req.Queue) {
			errs = append(errs, api.FieldError{Field: "queue", Message: "invalid queue name"})
		}
		if len(req.Input) > api.MaxTaskInputBytes {
			errs = append(errs, api.FieldError{Field: "input", Message: "too large"})
		}
	}
	if u := req.Usage; u != nil && (u.Tokens < 0 || u.CostMicros < 0) {
		errs = append(errs, api.FieldError{Field: "usage", Message: "must not be negative"})
	}
	return validation(errs)
}

func (s *Server) handleBeginStep(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id, key := r.PathValue("id"), r.PathValue("key")
	if err := validStepName("key", key, api.MaxStepKeyLen); err != nil {
		return err
	}
	if repeatNumbered(key) {
		return validation([]api.FieldError{{Field: "key", Message: "must not end in #<number>: the journal names a repeated key KEY#2, KEY#3 …"}})
	}
	req, err := decode[api.StepBeginRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	if err := s.validateBegin(&req); err != nil {
		return err
	}
	out, err := s.tasks.BeginStep(r.Context(), *p.workspace, id, key, req)
	if errors.Is(err, store.ErrStale) {
		return stale(id, req.Attempt)
	} else if errors.Is(err, store.ErrConflict) {
		return api.NewProblem(api.CodeConflict, conflictDetail(err))
	} else if err != nil {
		return storeError(err, "task", id)
	}
	encode(w, http.StatusOK, out)
	return nil
}

// conflictDetail is the store's reason for a journal conflict, without the
// wrapping ids.
func conflictDetail(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": step "); i >= 0 {
		msg = msg[i+2:]
	}
	return strings.TrimSuffix(msg, ": "+store.ErrConflict.Error())
}

func (s *Server) handleEndStep(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id, key := r.PathValue("id"), r.PathValue("key")
	if err := validStepName("key", key, api.MaxStepKeyLen+8); err != nil {
		return err
	}
	req, err := decode[api.StepEndRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	var errs []api.FieldError
	if req.Attempt < 1 {
		errs = append(errs, api.FieldError{Field: "attempt", Message: "must be >= 1"})
	}
	if len(req.Output) > api.MaxStepOutputBytes {
		p := api.Errorf(api.CodePayloadTooLarge, "step output is %d bytes; the limit is %d", len(req.Output), api.MaxStepOutputBytes)
		p.Errors = []api.FieldError{{Field: "output", Message: "too large"}}
		return p
	}
	if u := req.Usage; u != nil && (u.Tokens < 0 || u.CostMicros < 0) {
		errs = append(errs, api.FieldError{Field: "usage", Message: "must not be negative"})
	}
	if err := validation(errs); err != nil {
		return err
	}
	out, err := s.tasks.EndStep(r.Context(), *p.workspace, id, key, req)
	if errors.Is(err, store.ErrStale) {
		return stale(id, req.Attempt)
	} else if errors.Is(err, store.ErrConflict) {
		return api.NewProblem(api.CodeConflict, conflictDetail(err))
	} else if err != nil {
		return storeError(err, "task or step", id)
	}
	encode(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleSignal(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id, name := r.PathValue("id"), r.PathValue("name")
	if err := validStepName("name", name, api.MaxSignalNameLen); err != nil {
		return err
	}
	if strings.HasPrefix(name, api.ChildSignalPrefix) {
		// Only the server sends a child's end (docs/steps.md, "Fan-out and
		// join"): a forged one would answer a parent's join with an
		// outcome its child never had.
		p := api.Errorf(api.CodeValidationFailed, "signal names starting %q are the server's: a child task's end", api.ChildSignalPrefix)
		p.Errors = []api.FieldError{{Field: "name", Message: "reserved prefix " + api.ChildSignalPrefix}}
		return p
	}
	req, err := decode[api.SignalRequest](r, s.cfg.MaxBodyBytes, true)
	if err != nil {
		return err
	}
	if len(req.Data) > api.MaxSignalDataBytes {
		p := api.Errorf(api.CodePayloadTooLarge, "signal data is %d bytes; the limit is %d", len(req.Data), api.MaxSignalDataBytes)
		p.Errors = []api.FieldError{{Field: "data", Message: "too large"}}
		return p
	}
	idem := r.Header.Get(api.HeaderIdempotencyKey)
	if len(idem) > maxIdemKey {
		return api.Errorf(api.CodeInvalidRequest, "Idempotency-Key is longer than %d characters", maxIdemKey)
	}
	sig, created, err := s.tasks.Signal(r.Context(), p.workspaceID, id, store.Signal{Name: name, Data: req.Data, IdempotencyKey: idem})
	if errors.Is(err, store.ErrConflict) {
		return api.Errorf(api.CodeConflict, "task %s has ended: it takes no signals", id)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	encode(w, status, api.Signal{ID: sig.ID, TaskID: sig.TaskID, Name: sig.Name, Data: sig.Data, CreatedAt: sig.CreatedAt, ConsumedBy: sig.ConsumedBy})
	return nil
}

func (s *Server) handleUpdateTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	req, err := decode[api.UpdateTaskRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	var errs []api.FieldError
	if req.MaxCostMicros == nil && req.Priority == nil {
		errs = append(errs, api.FieldError{Field: "max_cost_micros", Message: "give max_cost_micros or priority"})
	}
	if m := req.MaxCostMicros; m != nil && (*m < 0 || *m > api.MaxTaskCostMicros) {
		errs = append(errs, api.FieldError{Field: "max_cost_micros", Message: fmt.Sprintf("must be between 0 and %d", int64(api.MaxTaskCostMicros))})
	}
	if pr := req.Priority; pr != nil && (*pr < -maxPriority || *pr > maxPriority) {
		errs = append(errs, api.FieldError{Field: "priority", Message: fmt.Sprintf("must be from %d to %d", -maxPriority, maxPriority)})
	}
	if err := validation(errs); err != nil {
		return err
	}
	t, err := s.tasks.UpdateTask(r.Context(), p.workspaceID, id, req.MaxCostMicros, req.Priority)
	if errors.Is(err, store.ErrConflict) {
		return api.Errorf(api.CodeConflict, "task %s is %s", id, t.Status)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	encode(w, http.StatusOK, apiTask(t))
	return nil
}

func (s *Server) handleRetryTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	req, err := decode[api.RetryTaskRequest](r, s.cfg.MaxBodyBytes, true)
	if err != nil {
		return err
	}
	if req.FromStep != "" {
		if err := validStepName("from_step", req.FromStep, api.MaxStepKeyLen+8); err != nil {
			return err
		}
	}
	t, err := s.tasks.RetryTask(r.Context(), p.workspaceID, id, req.FromStep)
	if errors.Is(err, store.ErrConflict) {
		return api.Errorf(api.CodeConflict, "task %s is %s: only a finished task, or one waiting for an operator, is retried", id, t.Status)
	} else if errors.Is(err, store.ErrNotFound) && req.FromStep != "" && t.ID == "" {
		return storeError(err, "task or step", id)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	encode(w, http.StatusOK, apiTask(t))
	return nil
}
