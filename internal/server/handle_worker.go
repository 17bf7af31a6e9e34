package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/queue"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Worker routes. A worker with a workspace key serves that workspace; one
// with an operator key and no Baton-Workspace header is a shared worker that
// claims from every workspace, and names each task's workspace in the
// header of its heartbeats and completions.

// reasonQuota is the heartbeat's cancel reason, and the start of the status
// reason, of a task terminated because its workspace's quota ran out.
const reasonQuota = string(api.CodeQuotaExceeded)

const (
	maxClaimWait  = 60
	maxClaimTasks = 100
	maxLogLines   = 1000
)

func (s *Server) handleClaim(w http.ResponseWriter, r *http.Request, p *principal) error {
	req, err := decode[api.ClaimRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	var errs []api.FieldError
	if len(req.Queues) == 0 {
		req.Queues = []string{api.DefaultQueue}
	}
	for i, q := range req.Queues {
		if !queueName.MatchString(q) {
			errs = append(errs, api.FieldError{Field: fmt.Sprintf("queues[%d]", i), Message: "invalid queue name"})
		}
	}
	if req.WorkerID == "" || len(req.WorkerID) > 128 {
		errs = append(errs, api.FieldError{Field: "worker_id", Message: "required, at most 128 characters"})
	}
	if req.WaitSeconds < 0 || req.WaitSeconds > maxClaimWait {
		errs = append(errs, api.FieldError{Field: "wait_seconds", Message: fmt.Sprintf("must be from 0 to %d", maxClaimWait)})
	}
	if req.MaxTasks == 0 {
		req.MaxTasks = 1
	}
	if req.MaxTasks < 1 || req.MaxTasks > maxClaimTasks {
		errs = append(errs, api.FieldError{Field: "max_tasks", Message: fmt.Sprintf("must be from 1 to %d", maxClaimTasks)})
	}
	if err := validation(errs); err != nil {
		return err
	}
	ws := p.workspaceID
	if ws == store.OperatorWorkspace {
		ws = store.AnyWorkspace
	}
	start := time.Now()
	tasks, err := s.queue.Claim(r.Context(), ws, req.Queues, req.WorkerID, req.MaxTasks, time.Duration(req.WaitSeconds)*time.Second)
	if err != nil {
		return err
	}
	s.metrics.claimDuration.Observe(time.Since(start).Seconds())
	s.metrics.tasksClaimed.Add(float64(len(tasks)))
	s.transition(api.TaskRunning, len(tasks))
	hb := s.queue.HeartbeatInterval()
	out := api.ClaimResponse{Tasks: make([]api.Task, len(tasks)),
		HeartbeatIntervalSeconds: int((hb + time.Second - 1) / time.Second), HeartbeatIntervalMS: hb.Milliseconds()}
	for i, t := range tasks {
		out.Tasks[i] = apiTask(t)
	}
	encode(w, http.StatusOK, out)
	return nil
}

// stale is the answer to a heartbeat or completion from an attempt that no
// longer holds the task.
func stale(id string, attempt int) *api.Problem {
	return api.Errorf(api.CodeConflict, "attempt %d of task %s no longer holds the task (stale attempt)", attempt, id)
}

func usage(u *api.UsageReport) *store.Usage {
	if u == nil {
		return nil
	}
	return &store.Usage{Tokens: max(u.Tokens, 0), CostMicros: max(u.CostMicros, 0)}
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	req, err := decode[api.HeartbeatRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	now := s.now()
	t, err := s.store.Heartbeat(r.Context(), p.workspaceID, id, req.Attempt, usage(req.Usage), now, s.queue.Lease())
	if errors.Is(err, store.ErrStale) {
		// The task ended while this attempt ran (cancelled, timed out,
		// terminated): tell the worker to stop, and why.
		if t.ID != "" && t.Attempt == req.Attempt && api.IsTerminal(t.Status) {
			reason := t.Status
			if t.Status == api.TaskTerminated {
				reason = reasonQuota
			}
			encode(w, http.StatusOK, api.HeartbeatResponse{Cancel: true, Reason: reason})
			return nil
		}
		return stale(id, req.Attempt)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	limits := s.tier(p.workspace.Tier).Limits.Apply(p.workspace.Overrides)
	if limit := queue.EffectiveTimeout(t, limits); limit > 0 && t.AttemptStarted != nil && now.Sub(*t.AttemptStarted) >= limit {
		reason := fmt.Sprintf("ran past its timeout of %s", queue.EffectiveTimeout(t, limits))
		if _, err := s.store.EndTask(r.Context(), p.workspaceID, id, req.Attempt, api.TaskTimedOut, reason, now); err == nil {
			s.transition(api.TaskTimedOut, 1)
		} else if !errors.Is(err, store.ErrStale) {
			return err
		}
		s.queue.Notify(r.Context(), id)
		encode(w, http.StatusOK, api.HeartbeatResponse{Cancel: true, Reason: api.TaskTimedOut})
		return nil
	}
	// The accrual just made may have used up the workspace's execution
	// seconds or spend: then the attempt ends here, terminated. Every
	// running task of the workspace learns it at its next heartbeat, so
	// the overshoot is at most one heartbeat interval per running task
	// (plus what one heartbeat reports).
	used, err := s.consumed(r.Context(), *p.workspace, now)
	if err != nil {
		return err
	}
	if ex := metering.Running(metering.Exhausted(limits, used)); len(ex) > 0 {
		reason := reasonQuota + ": " + metering.Describe(ex[0], limits, used)
		if _, err := s.store.EndTask(r.Context(), p.workspaceID, id, req.Attempt, api.TaskTerminated, reason, now); err == nil {
			s.transition(api.TaskTerminated, 1)
			s.metrics.quotaRejections.WithLabelValues(quotaLabel(ex[0])).Inc()
			s.log.Info("task terminated: quota used up", "workspace_id", p.workspaceID, "task_id", id, "attempt", req.Attempt, "reason", reason)
		} else if !errors.Is(err, store.ErrStale) {
			return err
		}
		s.queue.Notify(r.Context(), id)
		encode(w, http.StatusOK, api.HeartbeatResponse{Cancel: true, Reason: reasonQuota})
		return nil
	}
	encode(w, http.StatusOK, api.HeartbeatResponse{LeaseExpiresAt: t.LeaseExpiresAt})
	return nil
}

func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	req, err := decode[api.LogsRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	if len(req.Lines) > maxLogLines {
		return validation([]api.FieldError{{Field: "lines", Message: fmt.Sprintf("at most %d lines per request", maxLogLines)}})
	}
	err = s.store.AppendLogs(r.Context(), p.workspaceID, id, req.Attempt, req.Lines, s.now())
	if errors.Is(err, store.ErrStale) {
		return stale(id, req.Attempt)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	s.queue.Notify(r.Context(), id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleComplete(w http.ResponseWriter, r *http.Request, p *principal) error {
	req, err := decode[api.CompleteRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	if len(req.Output) == 0 {
		req.Output = []byte("null")
	}
	return s.finish(w, r, p, req.Attempt, store.Outcome{Status: api.TaskSucceeded, Output: req.Output, Usage: usage(req.Usage)})
}

func (s *Server) handleFail(w http.ResponseWriter, r *http.Request, p *principal) error {
	req, err := decode[api.FailRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	if req.Error == "" {
		req.Error = "failed"
	}
	return s.finish(w, r, p, req.Attempt, store.Outcome{Status: api.TaskFailed, Error: truncate(req.Error, 4096),
		Retryable: req.Retryable, RetryAt: s.now().Add(s.queue.Backoff(req.Attempt)), Usage: usage(req.Usage)})
}

func (s *Server) finish(w http.ResponseWriter, r *http.Request, p *principal, attempt int, o store.Outcome) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	o.Now = s.now()
	t, err := s.store.Complete(r.Context(), p.workspaceID, id, attempt, o)
	if errors.Is(err, store.ErrStale) {
		return stale(id, attempt)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	s.transition(t.Status, 1)
	s.queue.Notify(r.Context(), t.ID)
	if t.Status == api.TaskQueued {
		s.queue.Notify(r.Context(), t.Queue)
	}
	encode(w, http.StatusOK, apiTask(t))
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
