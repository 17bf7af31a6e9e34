package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

var (
	queueName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)
	labelKey  = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._/-]{0,62}$`)
)

const (
	maxPriority   = 1000
	maxAttemptCap = 100
	maxLabels     = 20
	maxLabelValue = 256
	// maxLabelFilters bounds the label= filters of one list.
	maxLabelFilters = 10
	maxIdemKey      = 255
)

// validateSubmit applies defaults to req and checks every field.
func validateSubmit(req *api.SubmitTaskRequest) []api.FieldError {
	var errs []api.FieldError
	if req.Queue == "" {
		req.Queue = api.DefaultQueue
	}
	if !queueName.MatchString(req.Queue) {
		errs = append(errs, api.FieldError{Field: "queue", Message: "must be 1-63 characters of letters, digits, '.', '_' or '-'"})
	}
	in := bytes.TrimSpace(req.Input)
	switch {
	case len(in) == 0 || bytes.Equal(in, []byte("null")):
		req.Input = json.RawMessage("{}")
	case in[0] != '{':
		errs = append(errs, api.FieldError{Field: "input", Message: "must be a JSON object"})
	}
	if req.Priority < -maxPriority || req.Priority > maxPriority {
		errs = append(errs, api.FieldError{Field: "priority", Message: fmt.Sprintf("must be from %d to %d", -maxPriority, maxPriority)})
	}
	if req.TimeoutSeconds < 0 {
		errs = append(errs, api.FieldError{Field: "timeout_seconds", Message: "must be >= 0 (0: the tier's max duration)"})
	}
	if req.MaxAttempts == 0 {
		req.MaxAttempts = api.DefaultAttempts
	}
	if req.MaxCostMicros < 0 || req.MaxCostMicros > api.MaxTaskCostMicros {
		errs = append(errs, api.FieldError{Field: "max_cost_micros", Message: fmt.Sprintf("must be between 0 and %d", int64(api.MaxTaskCostMicros))})
	}
	if req.MaxAttempts < 1 || req.MaxAttempts > maxAttemptCap {
		errs = append(errs, api.FieldError{Field: "max_attempts", Message: fmt.Sprintf("must be from 1 to %d", maxAttemptCap)})
	}
	if len(req.Labels) > maxLabels {
		errs = append(errs, api.FieldError{Field: "labels", Message: fmt.Sprintf("at most %d labels", maxLabels)})
	}
	keys := make([]string, 0, len(req.Labels))
	for k := range req.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !labelKey.MatchString(k) {
			errs = append(errs, api.FieldError{Field: "labels." + k, Message: "key must be 1-63 characters of letters, digits, '.', '_', '/' or '-'"})
		} else if len(req.Labels[k]) > maxLabelValue {
			errs = append(errs, api.FieldError{Field: "labels." + k, Message: fmt.Sprintf("value must be at most %d bytes", maxLabelValue)})
		}
	}
	return errs
}

// requestHash identifies the parameters of a submit, so a reused
// idempotency key with other parameters is told apart from a retry.
func requestHash(req api.SubmitTaskRequest) []byte {
	var in bytes.Buffer
	_ = json.Compact(&in, req.Input)
	req.Input = in.Bytes()
	b, _ := json.Marshal(req) // map keys are sorted: deterministic
	sum := sha256.Sum256(b)
	return sum[:]
}

func (s *Server) handleSubmitTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	req, err := decode[api.SubmitTaskRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	if len(req.Input) > api.MaxTaskInputBytes {
		p := api.Errorf(api.CodePayloadTooLarge, "task input is %d bytes; the limit is %d", len(req.Input), api.MaxTaskInputBytes)
		p.Errors = []api.FieldError{{Field: "input", Message: "too large"}}
		return p
	}
	idem := r.Header.Get(api.HeaderIdempotencyKey)
	if len(idem) > maxIdemKey {
		return api.Errorf(api.CodeInvalidRequest, "Idempotency-Key is longer than %d characters", maxIdemKey)
	}
	if err := validation(validateSubmit(&req)); err != nil {
		return err
	}
	now := s.now()
	t := store.Task{ID: ids.NewAt(ids.Task, now), WorkspaceID: p.workspaceID, Queue: req.Queue, Status: api.TaskQueued,
		Priority: req.Priority, Input: req.Input, Labels: req.Labels, MaxAttempts: req.MaxAttempts, TimeoutSeconds: req.TimeoutSeconds,
		IdempotencyKey: idem, RequestHash: requestHash(req), RunAt: now, CreatedAt: now, MaxCostMicros: req.MaxCostMicros}
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	got, created, err := s.tasks.Submit(r.Context(), *p.workspace, t)
	var qe *tasks.QuotaError
	if errors.As(err, &qe) {
		if qe.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int64(qe.RetryAfter/time.Second)))
		}
		return api.NewProblem(api.CodeQuotaExceeded, qe.Detail)
	}
	if errors.Is(err, store.ErrConflict) {
		return api.Errorf(api.CodeConflict, "Idempotency-Key %q was used for a task with other parameters", idem)
	} else if err != nil {
		return storeError(err, "workspace", p.workspaceID)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	encode(w, status, apiTask(got))
	return nil
}

func (s *Server) handleListTasks(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	q := r.URL.Query()
	f := store.TaskFilter{Status: q.Get("status"), Queue: q.Get("queue")}
	if f.Status != "" && !slices.Contains(api.TaskStatuses, f.Status) {
		pr := api.Errorf(api.CodeInvalidRequest, "unknown status %q; one of %s", f.Status, strings.Join(api.TaskStatuses, ", "))
		pr.Errors = []api.FieldError{{Field: "status", Message: "unknown value"}}
		return pr
	}
	// label may repeat: a task must carry every one (AND).
	labels := q["label"]
	if len(labels) > maxLabelFilters {
		pr := api.Errorf(api.CodeInvalidRequest, "at most %d label filters", maxLabelFilters)
		pr.Errors = []api.FieldError{{Field: "label", Message: fmt.Sprintf("at most %d", maxLabelFilters)}}
		return pr
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || !labelKey.MatchString(k) {
			pr := api.NewProblem(api.CodeInvalidRequest, "label must be key=value")
			pr.Errors = []api.FieldError{{Field: "label", Message: "must be key=value"}}
			return pr
		}
		f.Labels = append(f.Labels, store.Label{Key: k, Value: v})
	}
	pg, err := pageParams(r, "tasks", p.workspaceID)
	if err != nil {
		return err
	}
	rows, err := s.store.ListTasks(r.Context(), p.workspaceID, f, fetchPage(pg))
	if err != nil {
		return err
	}
	if slices.ContainsFunc(rows, func(t store.Task) bool { return t.Status == api.TaskQueued }) {
		reason, err := s.tasks.HoldReason(r.Context(), *p.workspace)
		if err != nil {
			return err
		}
		tasks.MarkHeld(rows, reason)
	}
	out := page(rows, pg.Limit, "tasks", p.workspaceID, taskID, apiTask)
	encode(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleGetTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := s.store.GetTask(r.Context(), p.workspaceID, id)
	if err != nil {
		return storeError(err, "task", id)
	}
	attempts, err := s.store.ListAttempts(r.Context(), p.workspaceID, id)
	if err != nil {
		return storeError(err, "task", id)
	}
	if t.Status == api.TaskQueued {
		reason, err := s.tasks.HoldReason(r.Context(), *p.workspace)
		if err != nil {
			return err
		}
		held := []store.Task{t}
		tasks.MarkHeld(held, reason)
		t = held[0]
	}
	out := apiTask(t)
	out.Attempts = make([]api.Attempt, len(attempts))
	for i, a := range attempts {
		out.Attempts[i] = apiAttempt(a)
	}
	encode(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleCancelTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := s.tasks.Cancel(r.Context(), p.workspaceID, id, "cancelled by "+p.key.ID)
	if errors.Is(err, store.ErrConflict) {
		return api.Errorf(api.CodeConflict, "task %s is already %s", id, t.Status)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	encode(w, http.StatusOK, apiTask(t))
	return nil
}
