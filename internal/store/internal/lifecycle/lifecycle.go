// Package lifecycle is the task state machine both stores share. Its
// functions are pure: a store locks a task (and its current attempt), calls
// one of them to move it to its next state, and writes the rows back, with
// the state event, in the same transaction (the flows doing so are in
// package flow). So the two dialects differ only in how they lock, read and
// write rows, never in what a transition means.
//
// Every time is truncated to the microsecond and put in UTC first, so that
// what a function computes is exactly what the store writes and reads back.
package lifecycle

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// ReasonLeaseExpired is the status reason of a task requeued by the reaper.
const ReasonLeaseExpired = "lease expired"

// At is t as stored: truncated to the microsecond, in UTC.
func At(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func atPtr(t time.Time) *time.Time {
	u := At(t)
	return &u
}

// Clean makes s storable as text in both dialects: invalid UTF-8 and NUL
// characters (which PostgreSQL text rejects) become U+FFFD.
func Clean(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}

// Current reports whether attempt is t's current running attempt: the
// fencing check of heartbeats, logs and completions.
func Current(t store.Task, attempt int) bool {
	return t.Status == api.TaskRunning && t.Attempt == attempt
}

// New returns t as CreateTask stores it: queued, never attempted, with no
// outcome, usage or lease; RunAt defaults to CreatedAt, MaxAttempts to at
// least 1, Input to JSON null and Labels to empty (labels are Cleaned).
// The StatusReason is kept (a task may be submitted held) and is the
// message of the first event.
func New(t store.Task) store.Task {
	t.Status = api.TaskQueued
	t.Output, t.Error = nil, ""
	t.StatusReason = Clean(t.StatusReason)
	t.Attempt = 0
	t.MaxAttempts = max(t.MaxAttempts, 1)
	if len(t.Input) == 0 {
		t.Input = json.RawMessage("null")
	}
	labels := make(map[string]string, len(t.Labels))
	for k, v := range t.Labels {
		labels[Clean(k)] = Clean(v)
	}
	t.Labels = labels
	t.CreatedAt = At(t.CreatedAt)
	if t.RunAt.IsZero() {
		t.RunAt = t.CreatedAt
	}
	t.RunAt = At(t.RunAt)
	t.LeaseExpiresAt, t.WorkerID = nil, ""
	t.StartedAt, t.FinishedAt, t.AttemptStarted = nil, nil, nil
	t.ExecutionMS, t.Tokens, t.CostMicros = 0, 0, 0
	return t
}

// Claim starts the next attempt of the queued task t for workerID and
// returns the new attempt and the event message.
func Claim(t *store.Task, workerID string, now time.Time, lease time.Duration) (store.Attempt, string) {
	now = At(now)
	workerID = Clean(workerID)
	t.Status = api.TaskRunning
	t.Attempt++
	t.WorkerID = workerID
	t.LeaseExpiresAt = atPtr(now.Add(lease))
	if t.StartedAt == nil {
		t.StartedAt = &now
	}
	t.AttemptStarted = &now
	t.StatusReason = ""
	a := store.Attempt{TaskID: t.ID, Number: t.Attempt, WorkerID: workerID, Status: api.TaskRunning,
		StartedAt: now, HeartbeatAt: now}
	return a, "claimed by " + workerID
}

// accrue adds the execution time of a from its last heartbeat up to now
// (never negative: a clock behind the last heartbeat adds nothing) to a and
// t, and raises a's usage totals to u (never lowering them), adding the
// increase to t. Milliseconds are counted on the absolute clock, so no
// fraction is lost between heartbeats.
func accrue(t *store.Task, a *store.Attempt, now time.Time, u *store.Usage) {
	now = At(now)
	if now.After(a.HeartbeatAt) {
		ms := now.UnixMilli() - a.HeartbeatAt.UnixMilli()
		a.ExecutionMS += ms
		t.ExecutionMS += ms
		a.HeartbeatAt = now
	}
	if u == nil {
		return
	}
	if u.Tokens > a.Tokens {
		t.Tokens += u.Tokens - a.Tokens
		a.Tokens = u.Tokens
	}
	if u.CostMicros > a.CostMicros {
		t.CostMicros += u.CostMicros - a.CostMicros
		a.CostMicros = u.CostMicros
	}
}

// Heartbeat accrues a's execution and usage and extends t's lease. It is no
// transition: it writes no event.
func Heartbeat(t *store.Task, a *store.Attempt, u *store.Usage, now time.Time, lease time.Duration) {
	accrue(t, a, now, u)
	t.LeaseExpiresAt = atPtr(now.Add(lease))
}

// finish ends attempt a with status and error msg at now.
func finish(a *store.Attempt, status, msg string, now time.Time) {
	a.Status = status
	a.Error = Clean(msg)
	a.FinishedAt = atPtr(now)
}

// end makes t terminal in status at now.
func end(t *store.Task, status, reason string, now time.Time) {
	t.Status = status
	t.StatusReason = Clean(reason)
	t.FinishedAt = atPtr(now)
	t.LeaseExpiresAt = nil
	t.WakeAt = nil
}

// requeue puts t back in the queue, claimable from runAt.
func requeue(t *store.Task, reason string, runAt time.Time) {
	t.Status = api.TaskQueued
	t.StatusReason = Clean(reason)
	t.RunAt = At(runAt)
	t.LeaseExpiresAt = nil
	t.WorkerID = ""
}

// Complete ends the current attempt a of t with o and returns the event
// message. A failure is retried (t queued again at o.RetryAt, or o.Now if
// unset) when o.Retryable and attempts remain; otherwise t fails.
func Complete(t *store.Task, a *store.Attempt, o store.Outcome) (string, error) {
	if o.Status != api.TaskSucceeded && o.Status != api.TaskFailed {
		return "", fmt.Errorf("outcome status %q is neither %s nor %s", o.Status, api.TaskSucceeded, api.TaskFailed)
	}
	accrue(t, a, o.Now, o.Usage)
	if o.Status == api.TaskSucceeded {
		finish(a, api.TaskSucceeded, "", o.Now)
		end(t, api.TaskSucceeded, "", o.Now)
		t.Output, t.Error = o.Output, ""
		if len(t.Output) == 0 {
			t.Output = json.RawMessage("null")
		}
		return "", nil
	}
	msg := Clean(o.Error)
	finish(a, api.TaskFailed, msg, o.Now)
	if o.Retryable && t.Attempt-t.SuspendedAttempts < t.MaxAttempts {
		runAt := o.RetryAt
		if runAt.IsZero() {
			runAt = o.Now
		}
		requeue(t, "retrying: "+msg, runAt)
		return t.StatusReason, nil
	}
	end(t, api.TaskFailed, "", o.Now)
	t.Error = msg
	return msg, nil
}

// Cancel cancels t, which is queued or running; a is its current attempt
// when running (nil when queued), whose execution accrues up to now.
func Cancel(t *store.Task, a *store.Attempt, reason string, now time.Time) string {
	if a != nil {
		accrue(t, a, now, nil)
		finish(a, api.TaskCancelled, reason, now)
	}
	end(t, api.TaskCancelled, reason, now)
	return t.StatusReason
}

// End moves running t and its current attempt a to status (api.TaskTimedOut
// or api.TaskTerminated), accruing execution up to now.
func End(t *store.Task, a *store.Attempt, status, reason string, now time.Time) (string, error) {
	if status != api.TaskTimedOut && status != api.TaskTerminated {
		return "", fmt.Errorf("end status %q is neither %s nor %s", status, api.TaskTimedOut, api.TaskTerminated)
	}
	accrue(t, a, now, nil)
	finish(a, status, reason, now)
	end(t, status, reason, now)
	return t.StatusReason, nil
}

// Expire handles t whose lease ran out before now: its attempt a expires
// with no execution accrued past its last heartbeat, and t is queued again
// at now+backoff(attempt) while attempts remain, else it fails.
func Expire(t *store.Task, a *store.Attempt, now time.Time, backoff func(attempt int) time.Duration) string {
	finish(a, store.AttemptExpired, ReasonLeaseExpired, now)
	if t.Attempt-t.SuspendedAttempts < t.MaxAttempts {
		var d time.Duration
		if backoff != nil {
			d = max(backoff(t.Attempt), 0)
		}
		requeue(t, ReasonLeaseExpired, now.Add(d))
		return t.StatusReason
	}
	end(t, api.TaskFailed, "", now)
	t.Error = fmt.Sprintf("%s after %d attempts", ReasonLeaseExpired, t.Attempt)
	return t.Error
}

// Suspend ends running t's current attempt a as suspended at now and makes
// t wait (no lease, no worker) for reason, until wake when set. The attempt
// does not count against max_attempts. Execution has been accrued by the
// caller.
func Suspend(t *store.Task, a *store.Attempt, reason string, wake *time.Time, now time.Time) string {
	finish(a, store.AttemptSuspended, reason, now)
	t.Status = api.TaskWaiting
	t.StatusReason = Clean(reason)
	t.LeaseExpiresAt = nil
	t.WorkerID = ""
	t.WakeAt = nil
	if wake != nil {
		t.WakeAt = atPtr(*wake)
	}
	t.SuspendedAttempts++
	return t.StatusReason
}

// Wake queues waiting t again at now, with reason.
func Wake(t *store.Task, reason string, now time.Time) string {
	requeue(t, reason, now)
	t.WakeAt = nil
	return t.StatusReason
}
