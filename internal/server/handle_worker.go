package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

// Worker routes. A worker with a workspace key serves that workspace; one
// with an operator key and no Baton-Workspace header is a shared worker that
// claims from every workspace, and names each task's workspace in the
// header of its heartbeats and completions.

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
	if len(req.Host) > 255 {
		errs = append(errs, api.FieldError{Field: "host", Message: "at most 255 characters"})
	}
	if req.Concurrency < 0 || req.Concurrency > 10000 {
		errs = append(errs, api.FieldError{Field: "concurrency", Message: "must be from 0 to 10000"})
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
	} else if req.WaitSeconds > 0 && p.workspace != nil {
		// A long poll holds a connection like a stream does; a shared
		// worker's (operator key, every workspace) is the operator's.
		release, err := s.streams.acquire(w, ws, s.limits(*p.workspace).MaxOpenStreams)
		if err != nil {
			return err
		}
		defer release()
	}
	s.tasks.Seen(r.Context(), store.Worker{WorkspaceID: p.workspaceID, ID: req.WorkerID, Host: req.Host,
		Version: tasks.VersionOf(r.UserAgent()), Queues: req.Queues, Concurrency: req.Concurrency})
	start := time.Now()
	claimed, err := s.tasks.Claim(r.Context(), ws, req.Queues, req.WorkerID, req.MaxTasks, time.Duration(req.WaitSeconds)*time.Second)
	if err != nil {
		return err
	}
	s.metrics.claimDuration.Observe(time.Since(start).Seconds())
	s.metrics.tasksClaimed.Add(float64(len(claimed)))
	hb := s.tasks.HeartbeatInterval()
	out := api.ClaimResponse{Tasks: make([]api.Task, len(claimed)),
		HeartbeatIntervalSeconds: int((hb + time.Second - 1) / time.Second), HeartbeatIntervalMS: hb.Milliseconds()}
	for i, t := range claimed {
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
	beat, err := s.tasks.Heartbeat(r.Context(), *p.workspace, id, req.Attempt, usage(req.Usage))
	if errors.Is(err, store.ErrStale) {
		return stale(id, req.Attempt)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	if beat.Cancel {
		encode(w, http.StatusOK, api.HeartbeatResponse{Cancel: true, Reason: beat.Reason})
		return nil
	}
	encode(w, http.StatusOK, api.HeartbeatResponse{LeaseExpiresAt: beat.Task.LeaseExpiresAt})
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
	if req.Stream {
		_, err = s.tasks.AppendStream(r.Context(), *p.workspace, id, req.Attempt, req.Channel, req.Lines)
	} else {
		_, err = s.tasks.AppendLogs(r.Context(), *p.workspace, id, req.Attempt, req.Lines)
	}
	if errors.Is(err, store.ErrStale) {
		return stale(id, req.Attempt)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleComplete(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	req, err := decode[api.CompleteRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := s.tasks.Complete(r.Context(), p.workspaceID, id, req.Attempt, req.Output, usage(req.Usage))
	return s.finished(w, t, err, id, req.Attempt)
}

func (s *Server) handleFail(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	req, err := decode[api.FailRequest](r, s.cfg.MaxBodyBytes, false)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := s.tasks.Fail(r.Context(), p.workspaceID, id, req.Attempt, req.Error, req.Retryable, usage(req.Usage))
	return s.finished(w, t, err, id, req.Attempt)
}

// finished answers a completion or failure with the task, or its error.
func (s *Server) finished(w http.ResponseWriter, t store.Task, err error, id string, attempt int) error {
	if errors.Is(err, store.ErrStale) {
		return stale(id, attempt)
	} else if err != nil {
		return storeError(err, "task", id)
	}
	encode(w, http.StatusOK, apiTask(t))
	return nil
}
