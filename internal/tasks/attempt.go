package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// ReasonQuota is the heartbeat's cancel reason, and the start of the status
// reason, of a task terminated because its workspace's quota ran out.
const ReasonQuota = string(api.CodeQuotaExceeded)

// ReasonSuspended is a heartbeat's cancel reason when the task's workspace
// is suspended: a shared worker (operator key, which suspension does not
// refuse) stops the agent instead of running on and having its work
// refused. The lease then runs out and the task waits, held, until the
// workspace is resumed.
const ReasonSuspended = string(api.CodeWorkspaceSuspended)

// Beat is a heartbeat's answer: keep going until LeaseExpiresAt, or stop
// (Cancel) for Reason: api.TaskCancelled, api.TaskTimedOut, ReasonQuota.
type Beat struct {
	Task   store.Task
	Cancel bool
	Reason string
}

// Heartbeat extends the lease of attempt of task id of ws, accrues its
// execution (server clock) and the usage u the worker reports, and decides
// whether it goes on: an attempt past its effective timeout ends
// timed_out, and one whose accrual used up the workspace's execution
// seconds or spend ends terminated. Every running task of the workspace
// learns it at its next heartbeat, so the overshoot is at most one
// heartbeat interval per running task (plus what one heartbeat reports).
// A heartbeat of an attempt whose task ended meanwhile (cancelled, timed
// out, terminated) is told to stop too. Errors: store.ErrNotFound;
// store.ErrStale (another attempt holds the task).
func (s *Service) Heartbeat(ctx context.Context, ws store.Workspace, id string, attempt int, u *store.Usage) (Beat, error) {
	if ws.Status == api.WorkspaceSuspended {
		t, err := s.cfg.Store.GetTask(ctx, ws.ID, id)
		if err != nil {
			return Beat{}, err
		}
		if t.Attempt != attempt || t.Status != api.TaskRunning {
			return Beat{}, store.ErrStale
		}
		return Beat{Task: t, Cancel: true, Reason: ReasonSuspended}, nil
	}
	now := s.now()
	t, err := s.cfg.Store.Heartbeat(ctx, ws.ID, id, attempt, u, now, s.cfg.Lease)
	if errors.Is(err, store.ErrStale) {
		if t.ID != "" && t.Attempt == attempt && api.IsTerminal(t.Status) {
			reason := t.Status
			if t.Status == api.TaskTerminated {
				reason = ReasonQuota
			}
			return Beat{Task: t, Cancel: true, Reason: reason}, nil
		}
		if t.ID != "" && t.Attempt == attempt && t.Status == api.TaskWaiting {
			return Beat{Task: t, Cancel: true, Reason: ReasonAttemptSuspended}, nil
		}
		return Beat{}, err
	} else if err != nil {
		return Beat{}, err
	}
	if u != nil {
		s.budgetAlerts(ctx, t)
	}
	l := s.cfg.Limits(ws)
	if limit := EffectiveTimeout(t, l); limit > 0 && t.AttemptStarted != nil && now.Sub(*t.AttemptStarted) >= limit {
		return s.end(ctx, t, attempt, api.TaskTimedOut, api.TaskTimedOut, fmt.Sprintf("ran past its timeout of %s", limit))
	}
	used, err := s.Consumed(ctx, ws.ID)
	if err != nil {
		return Beat{}, err
	}
	if q := metering.Terminate(l, used); q != "" {
		reason := ReasonQuota + ": " + metering.Describe(q, l, used)
		b, err := s.end(ctx, t, attempt, api.TaskTerminated, ReasonQuota, reason)
		if err == nil {
			s.cfg.Hooks.QuotaRefused(q)
			s.cfg.Log.Info("task terminated: quota used up", "workspace_id", ws.ID, "task_id", id, "attempt", attempt, "reason", reason)
		}
		return b, err
	}
	return Beat{Task: t}, nil
}

// end ends attempt of running t in status (timed out or terminated) and
// answers the heartbeat with cancel and answer. An attempt that ended
// otherwise meanwhile is told to stop all the same.
func (s *Service) end(ctx context.Context, t store.Task, attempt int, status, answer, reason string) (Beat, error) {
	got, err := s.cfg.Store.EndTask(ctx, t.WorkspaceID, t.ID, attempt, status, reason, s.now())
	switch {
	case err == nil:
		s.cfg.Hooks.Transition(status, 1)
		s.changed(ctx, got)
		s.ended(ctx, got)
	case errors.Is(err, store.ErrStale):
		got = t
	default:
		return Beat{}, err
	}
	return Beat{Task: got, Cancel: true, Reason: answer}, nil
}

// Complete ends attempt of task id of workspaceID as succeeded with output
// (JSON null when empty) and the final usage u. Errors: store.ErrNotFound;
// store.ErrStale (another attempt holds the task: nothing changes).
func (s *Service) Complete(ctx context.Context, workspaceID, id string, attempt int, output json.RawMessage, u *store.Usage) (store.Task, error) {
	if len(output) == 0 {
		output = json.RawMessage("null")
	}
	return s.finish(ctx, workspaceID, id, attempt, store.Outcome{Status: api.TaskSucceeded, Output: output, Usage: u})
}

// MaxErrorBytes bounds the error text a failure stores.
const MaxErrorBytes = 4096

// Fail ends attempt of task id of workspaceID as failed with msg ("failed"
// when empty, cut to MaxErrorBytes): retried after the backoff when
// retryable and attempts remain, else the task fails. Errors as Complete.
func (s *Service) Fail(ctx context.Context, workspaceID, id string, attempt int, msg string, retryable bool, u *store.Usage) (store.Task, error) {
	if msg == "" {
		msg = "failed"
	}
	if len(msg) > MaxErrorBytes {
		msg = msg[:MaxErrorBytes]
	}
	return s.finish(ctx, workspaceID, id, attempt, store.Outcome{Status: api.TaskFailed, Error: msg,
		Retryable: retryable, RetryAt: s.now().Add(s.cfg.Backoff.Delay(attempt)), Usage: u})
}

func (s *Service) finish(ctx context.Context, workspaceID, id string, attempt int, o store.Outcome) (store.Task, error) {
	o.Now = s.now()
	t, err := s.cfg.Store.Complete(ctx, workspaceID, id, attempt, o)
	if err != nil {
		return t, err
	}
	if o.Usage != nil {
		s.budgetAlerts(ctx, t)
	}
	s.cfg.Hooks.Transition(t.Status, 1)
	s.changed(ctx, t)
	s.ended(ctx, t)
	return t, nil
}

// Cancel cancels queued, running or waiting task id of workspaceID with reason; a
// running attempt learns it at its next heartbeat. Errors:
// store.ErrNotFound; store.ErrConflict with the task when it is already
// terminal.
func (s *Service) Cancel(ctx context.Context, workspaceID, id, reason string) (store.Task, error) {
	t, err := s.cfg.Store.CancelTask(ctx, workspaceID, id, reason, s.now())
	if err != nil {
		return t, err
	}
	s.cfg.Hooks.Transition(api.TaskCancelled, 1)
	s.changed(ctx, t)
	s.ended(ctx, t)
	return t, nil
}

// AppendLogs stores lines of attempt of task id of workspace ws as log
// events, within the workspace's max_log_bytes_per_task (lines past it
// are dropped and counted), and wakes the task's followers. Errors:
// store.ErrNotFound; store.ErrStale.
func (s *Service) AppendLogs(ctx context.Context, ws store.Workspace, id string, attempt int, lines []string) (store.LogResult, error) {
	res, err := s.cfg.Store.AppendLogs(ctx, ws.ID, id, attempt, lines, s.cfg.Limits(ws).MaxLogBytesPerTask, s.now())
	return s.appended(ctx, id, res, err)
}

// AppendStream is AppendLogs for the lines of a token stream on channel
// (baton step emit): they become stream events, in the same log budget.
func (s *Service) AppendStream(ctx context.Context, ws store.Workspace, id string, attempt int, channel string, lines []string) (store.LogResult, error) {
	res, err := s.cfg.Store.AppendStream(ctx, ws.ID, id, attempt, channel, lines, s.cfg.Limits(ws).MaxLogBytesPerTask, s.now())
	return s.appended(ctx, id, res, err)
}

// appended counts the lines dropped and wakes the task's followers.
func (s *Service) appended(ctx context.Context, id string, res store.LogResult, err error) (store.LogResult, error) {
	if err != nil {
		return res, err
	}
	if res.Dropped > 0 {
		s.cfg.Hooks.LogsDropped(res.Dropped)
	}
	if res.Stored > 0 || res.Dropped > 0 {
		s.cfg.Notifier.Notify(context.WithoutCancel(ctx), TaskTopic(id))
	}
	return res, nil
}
