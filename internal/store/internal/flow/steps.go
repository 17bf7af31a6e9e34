package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/lifecycle"
	"github.com/genericcorp/baton/pkg/api"
)

// StepTx is the row operations on the journal and signals (durable steps,
// docs/steps.md).
type StepTx interface {
	// Steps reads the task's journal, in seq order.
	Steps(ctx context.Context, taskID string) ([]store.Step, error)
	// StepsOf reads the task's steps of the program's key baseKey (KEY and
	// its repeats KEY#n), in seq order, and the journal's highest seq.
	StepsOf(ctx context.Context, taskID, baseKey string) (steps []store.Step, maxSeq int, err error)
	// SaveStep inserts s or replaces the row of (s.TaskID, s.Key).
	SaveStep(ctx context.Context, s store.Step) error
	// DeleteSteps deletes the task's steps that are running or (fromSeq
	// above 0) whose seq is at least fromSeq.
	DeleteSteps(ctx context.Context, taskID string, fromSeq int) error
	// PendingSignal reads the oldest signal named name that no wait has
	// consumed; ok is false when there is none.
	PendingSignal(ctx context.Context, taskID, name string) (s store.Signal, ok bool, err error)
	// InsertSignal inserts s with the task's next seq; when s's
	// idempotency key is taken for the task it inserts nothing and
	// returns the signal that has it, inserted false.
	InsertSignal(ctx context.Context, s store.Signal) (got store.Signal, inserted bool, err error)
	// ConsumeSignal marks signal id consumed by step.
	ConsumeSignal(ctx context.Context, id, step string) error
	// ChildrenCost sums the cost of the task's children.
	ChildrenCost(ctx context.Context, taskID string) (int64, error)
	// SetTaskBudget writes the task's max_cost_micros and priority.
	SetTaskBudget(ctx context.Context, id string, maxCostMicros int64, priority int) error
	// LockWakeable reads and holds up to limit waiting tasks whose timer
	// passed at now or whose awaited child has ended: a waiting spawn step's
	// child, or a waiting wait step's child (ChildID) whose end signal the
	// task has not had (idempotency key api.ChildSignal(child)).
	LockWakeable(ctx context.Context, now time.Time, limit int) ([]Row, error)
}

// stepEvent is a step event of r's task (its seq advanced) at at.
func stepEvent(r *Row, message string, at time.Time) store.TaskEvent {
	r.Seq++
	return store.TaskEvent{TaskID: r.Task.ID, WorkspaceID: r.Task.WorkspaceID, Seq: r.Seq,
		Type: api.EventStep, Attempt: r.Task.Attempt, Message: lifecycle.Clean(message), At: at}
}

// stateEventOf is the state event of r's transition (its seq advanced).
func stateEventOf(r *Row, message string, at time.Time) store.TaskEvent {
	r.Seq++
	return stateEvent(*r, message, at)
}

// currentAttempt reads the running attempt of r after the fencing check.
func currentAttempt(ctx context.Context, tx Tx, r Row) (store.Attempt, error) {
	as, err := tx.Attempts(ctx, []AttemptRef{{TaskID: r.Task.ID, Number: r.Task.Attempt}})
	if err != nil {
		return store.Attempt{}, err
	}
	if len(as) != 1 {
		return store.Attempt{}, fmt.Errorf("attempt %d: %w", r.Task.Attempt, store.ErrNotFound)
	}
	return as[0], nil
}

// fire decides a waiting step st of r's task at now: whether its timer,
// signal or child has come. It changes st (and consumes the signal).
func fire(ctx context.Context, tx Tx, r Row, st *store.Step, now time.Time) (bool, error) {
	done := func(status string, output json.RawMessage, msg string) {
		st.Status, st.Output, st.Error, st.FinishedAt = status, output, msg, &now
		if len(st.Output) == 0 {
			st.Output = json.RawMessage("null")
		}
		st.WaitReason = ""
	}
	switch st.Kind {
	case api.StepSleep:
		if st.WakeAt != nil && !st.WakeAt.After(now) {
			done(api.StepSucceeded, nil, "")
			return true, nil
		}
	case api.StepWait:
		sig, ok, err := tx.PendingSignal(ctx, r.Task.ID, st.WaitSignal)
		if err != nil {
			return false, err
		}
		if !ok && st.ChildID != "" {
			// A join of a child whose end was not delivered (the server
			// stopped between the child's end and WakeParent): deliver it now.
			c, err := tx.LockTask(ctx, r.Task.WorkspaceID, st.ChildID)
			if err != nil {
				return false, fmt.Errorf("child %s: %w", st.ChildID, err)
			}
			if api.IsTerminal(c.Task.Status) {
				if sig, ok, err = deliverChildEnd(ctx, tx, r, c.Task, now); err != nil {
					return false, err
				}
			}
		}
		if ok {
			if err := tx.ConsumeSignal(ctx, sig.ID, st.Key); err != nil {
				return false, err
			}
			done(api.StepSucceeded, sig.Data, "")
			return true, nil
		}
		if st.WakeAt != nil && !st.WakeAt.After(now) {
			done(api.StepFailed, nil, "timeout")
			return true, nil
		}
	case api.StepSpawn:
		c, err := tx.LockTask(ctx, r.Task.WorkspaceID, st.ChildID)
		if err != nil {
			return false, fmt.Errorf("child %s: %w", st.ChildID, err)
		}
		if !api.IsTerminal(c.Task.Status) {
			return false, nil
		}
		if c.Task.Status == api.TaskSucceeded {
			done(api.StepSucceeded, c.Task.Output, "")
		} else {
			msg := fmt.Sprintf("child task %s %s", c.Task.ID, c.Task.Status)
			if c.Task.Error != "" {
				msg += ": " + c.Task.Error
			} else if c.Task.StatusReason != "" {
				msg += ": " + c.Task.StatusReason
			}
			done(api.StepFailed, nil, msg)
		}
		return true, nil
	}
	return false, nil
}

// waitReason is a waiting task's status reason for step st.
func waitReason(st store.Step) string {
	switch st.WaitReason {
	case api.WaitSignal:
		return api.WaitSignal + ": " + st.WaitSignal
	case api.WaitChild:
		return api.WaitChild + ": " + st.ChildID
	}
	return st.WaitReason
}

// retryWaste are the usage events tagging what step key spent in attempt
// (which died inside it) as retry waste: a subset of its tokens and cost,
// already metered, reported apart. The ids make a replay add nothing.
func retryWaste(workspaceID, taskID, key string, attempt int, tokens, cost int64, at time.Time) []store.UsageEvent {
	var out []store.UsageEvent
	for _, m := range []struct {
		metric string
		v      int64
	}{{api.MetricRetryWasteTokens, tokens}, {api.MetricRetryWasteCostMicros, cost}} {
		if m.v > 0 {
			out = append(out, store.UsageEvent{ID: fmt.Sprintf("%s/%s/%d/%s", taskID, key, attempt, m.metric),
				WorkspaceID: workspaceID, Metric: m.metric, Value: m.v, At: at, TaskID: taskID})
		}
	}
	return out
}

// BeginStep begins or replays step b.Key of attempt b.Attempt of task id
// (see store.StepStore): in one transaction it fences the attempt, accrues
// its usage, numbers the key, and answers from the journal or records the
// begin; a wait that has not fired, a budget used up or an at-most-once
// step in flight when its attempt died suspends the attempt (the task
// waits).
func (run Runner) BeginStep(ctx context.Context, workspaceID, id string, b store.StepBegin) (store.StepBegun, error) {
	var out store.StepBegun
	now := lifecycle.At(b.Now)
	err := run(ctx, func(tx Tx) error {
		out = store.StepBegun{}
		r, err := tx.LockTask(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		if !lifecycle.Current(r.Task, b.Attempt) {
			out.Task = r.Task
			return store.ErrStale
		}
		a, err := currentAttempt(ctx, tx, r)
		if err != nil {
			return err
		}
		was := a
		lifecycle.Heartbeat(&r.Task, &a, b.Usage, now, b.Lease)
		steps, seq, err := tx.StepsOf(ctx, id, b.Key)
		if err != nil {
			return err
		}
		n := 0
		for _, s := range steps {
			if s.SeenAttempt == b.Attempt {
				n++
			}
		}
		key := b.Key
		if n > 0 {
			key = fmt.Sprintf("%s#%d", b.Key, n+1)
		}
		var st *store.Step
		for i := range steps {
			if steps[i].Key == key {
				st = &steps[i]
			}
		}
		out.Key, out.IdempotencyKey = key, id+"/"+key
		var (
			events []store.TaskEvent
			waste  []store.UsageEvent
			save   = true
		)
		suspend := func(reason string, wake *time.Time) {
			msg := lifecycle.Suspend(&r.Task, &a, reason, wake, now)
			out.Action, out.Reason = api.ActionSuspend, reason
			events = append(events, stateEventOf(&r, msg, now))
		}
		begin := func(s *store.Step) error {
			if b.Budget != nil {
				children, err := tx.ChildrenCost(ctx, id)
				if err != nil {
					return err
				}
				_, used, err := tx.AdmissionCounts(ctx, workspaceID, now)
				if err != nil {
					return err
				}
				if reason, until := b.Budget(r.Task, children, used); reason != "" {
					suspend(api.WaitBudget+": "+reason, until)
					return nil
				}
			}
			s.Status, s.Attempts, s.Attempt = api.StepRunning, s.Attempts+1, b.Attempt
			s.BaseExecutionMS, s.BaseTokens, s.BaseCostMicros = a.ExecutionMS, a.Tokens, a.CostMicros
			s.StartedAt, s.FinishedAt, s.Output, s.Error = now, nil, nil, ""
			out.Action = api.ActionRun
			events = append(events, stepEvent(&r, "begin "+s.Key, now))
			return nil
		}
		if st != nil {
			if st.Kind != b.Kind {
				return fmt.Errorf("step %s is a %s step in the journal, not %s: %w", key, st.Kind, b.Kind, store.ErrConflict)
			}
			if b.InputHash != "" && st.InputHash != "" && b.InputHash != st.InputHash {
				return fmt.Errorf("step %s: its input changed since it was recorded: %w", key, store.ErrConflict)
			}
			st.SeenAttempt = b.Attempt
			switch st.Status {
			case api.StepRunning:
				if st.Attempt == b.Attempt {
					return fmt.Errorf("step %s is running in this attempt: %w", key, store.ErrConflict)
				}
				// The attempt that began it died inside it: what it spent
				// there stays billed, as retry waste.
				if old, err := tx.Attempts(ctx, []AttemptRef{{TaskID: id, Number: st.Attempt}}); err != nil {
					return err
				} else if len(old) == 1 {
					wt, wc := max(old[0].Tokens-st.BaseTokens, 0), max(old[0].CostMicros-st.BaseCostMicros, 0)
					st.WasteExecutionMS += max(old[0].ExecutionMS-st.BaseExecutionMS, 0)
					st.WasteTokens += wt
					st.WasteCostMicros += wc
					waste = retryWaste(workspaceID, id, key, st.Attempt, wt, wc, now)
					st.BaseExecutionMS, st.BaseTokens, st.BaseCostMicros = old[0].ExecutionMS, old[0].Tokens, old[0].CostMicros
				}
				if st.AtMostOnce {
					suspend(fmt.Sprintf("%s: at-most-once step %s was in flight when attempt %d ended", api.WaitOperator, key, st.Attempt), nil)
					break
				}
				if err := begin(st); err != nil {
					return err
				}
				if out.Action == api.ActionRun {
					out.PreviousOutcome = api.PreviousOutcomeUnknown
				}
			case api.StepWaiting:
				fired, err := fire(ctx, tx, r, st, now)
				if err != nil {
					return err
				}
				if !fired {
					suspend(waitReason(*st), st.WakeAt)
					break
				}
				out.Action, out.Output, out.Error = api.ActionDone, st.Output, st.Error
				events = append(events, stepEvent(&r, "end "+key+" "+st.Status, now))
			default:
				out.Action, out.Output, out.Error = api.ActionDone, st.Output, st.Error
			}
		} else {
			st = &store.Step{TaskID: id, WorkspaceID: workspaceID, Key: key, BaseKey: b.Key, Kind: b.Kind,
				Attempt: b.Attempt, SeenAttempt: b.Attempt, AtMostOnce: b.AtMostOnce, InputHash: b.InputHash,
				Seq: seq + 1, StartedAt: now}
			switch b.Kind {
			case api.StepRun:
				if err := begin(st); err != nil {
					return err
				}
				save = out.Action == api.ActionRun // a step that never began is not recorded
			case api.StepSleep, api.StepWait, api.StepSpawn:
				st.Status = api.StepWaiting
				switch b.Kind {
				case api.StepSleep:
					until := lifecycle.At(b.Until)
					st.WaitReason, st.WakeAt = api.WaitSleep, &until
				case api.StepWait:
					st.WaitReason, st.WaitSignal = api.WaitSignal, b.Signal
					if b.Timeout > 0 {
						wake := now.Add(b.Timeout)
						st.WakeAt = &wake
					}
					if child, ok := strings.CutPrefix(b.Signal, api.ChildSignalPrefix); ok {
						// A join: the reaper's wake query (LockWakeable) then
						// wakes the task when the child has ended but its end
						// was not delivered.
						c, err := tx.LockTask(ctx, workspaceID, child)
						if err != nil && !errors.Is(err, store.ErrNotFound) {
							return err
						}
						if err == nil && c.Task.ParentID == id {
							st.ChildID = child
						}
					}
				case api.StepSpawn:
					if b.Child == nil {
						return errors.New("spawn without a child task")
					}
					c := *b.Child
					c.WorkspaceID, c.ParentID, c.CreatedAt = workspaceID, id, now
					c = lifecycle.New(c)
					cr, inserted, err := tx.InsertTask(ctx, c)
					if err != nil {
						return err
					}
					if !inserted {
						return fmt.Errorf("child of step %s: %w", key, store.ErrConflict)
					}
					out.Child = cr.Task
					st.ChildID, st.WaitReason = c.ID, api.WaitChild
					if !b.SpawnWait {
						st.Status, st.WaitReason, st.FinishedAt = api.StepSucceeded, "", &now
						st.Output = json.RawMessage(fmt.Sprintf(`{"task_id":%q}`, c.ID))
					}
				}
				events = append(events, stepEvent(&r, "begin "+key, now))
				fired := st.Status != api.StepWaiting
				if !fired {
					if fired, err = fire(ctx, tx, r, st, now); err != nil {
						return err
					}
				}
				if fired {
					out.Action, out.Output, out.Error = api.ActionDone, st.Output, st.Error
					events = append(events, stepEvent(&r, "end "+key+" "+st.Status, now))
				} else {
					suspend(waitReason(*st), st.WakeAt)
				}
			default:
				return fmt.Errorf("step kind %q: %w", b.Kind, store.ErrConflict)
			}
		}
		if save {
			if err := tx.SaveStep(ctx, *st); err != nil {
				return err
			}
		}
		out.Task = r.Task
		return tx.Write(ctx, Writes{Attempts: []store.Attempt{a}, Usage: append(meterEvents(workspaceID, was, a, now), waste...),
			Tasks: []Row{r}, Events: events})
	})
	if err != nil {
		if !errors.Is(err, store.ErrStale) {
			out = store.StepBegun{}
		}
		return out, fmt.Errorf("begin step %q of task %s attempt %d: %w", b.Key, id, b.Attempt, err)
	}
	return out, nil
}

// EndStep records the outcome of running step e.Key of attempt e.Attempt
// (see store.StepStore).
func (run Runner) EndStep(ctx context.Context, workspaceID, id string, e store.StepEnd) (store.Task, error) {
	var out store.Task
	now := lifecycle.At(e.Now)
	err := run(ctx, func(tx Tx) error {
		r, err := tx.LockTask(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		if !lifecycle.Current(r.Task, e.Attempt) {
			out = r.Task
			return store.ErrStale
		}
		a, err := currentAttempt(ctx, tx, r)
		if err != nil {
			return err
		}
		was := a
		lifecycle.Heartbeat(&r.Task, &a, e.Usage, now, e.Lease)
		steps, err := tx.Steps(ctx, id)
		if err != nil {
			return err
		}
		var st *store.Step
		for i := range steps {
			if steps[i].Key == e.Key {
				st = &steps[i]
			}
		}
		if st == nil {
			return fmt.Errorf("step %s: %w", e.Key, store.ErrNotFound)
		}
		if st.Status != api.StepRunning || st.Attempt != e.Attempt {
			return fmt.Errorf("step %s is %s (attempt %d), not running in attempt %d: %w", e.Key, st.Status, st.Attempt, e.Attempt, store.ErrConflict)
		}
		st.ExecutionMS += max(a.ExecutionMS-st.BaseExecutionMS, 0)
		st.Tokens += max(a.Tokens-st.BaseTokens, 0)
		st.CostMicros += max(a.CostMicros-st.BaseCostMicros, 0)
		st.BaseExecutionMS, st.BaseTokens, st.BaseCostMicros = a.ExecutionMS, a.Tokens, a.CostMicros
		st.Status, st.Output, st.Error, st.FinishedAt = api.StepSucceeded, e.Output, "", &now
		if e.Failed || e.Error != "" {
			st.Status, st.Output, st.Error = api.StepFailed, nil, lifecycle.Clean(e.Error)
		}
		if len(st.Output) == 0 {
			st.Output = json.RawMessage("null")
		}
		if err := tx.SaveStep(ctx, *st); err != nil {
			return err
		}
		ev := stepEvent(&r, "end "+st.Key+" "+st.Status, now)
		out = r.Task
		return tx.Write(ctx, Writes{Attempts: []store.Attempt{a}, Usage: meterEvents(workspaceID, was, a, now),
			Tasks: []Row{r}, Events: []store.TaskEvent{ev}})
	})
	if err != nil {
		if !errors.Is(err, store.ErrStale) {
			out = store.Task{}
		}
		return out, fmt.Errorf("end step %q of task %s attempt %d: %w", e.Key, id, e.Attempt, err)
	}
	return out, nil
}

// ListSteps returns the task's journal.
func (run Runner) ListSteps(ctx context.Context, workspaceID, id string) ([]store.Step, error) {
	var out []store.Step
	err := run(ctx, func(tx Tx) error {
		if _, err := tx.LockTask(ctx, workspaceID, id); err != nil {
			return err
		}
		var err error
		out, err = tx.Steps(ctx, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list steps of task %s: %w", id, err)
	}
	return out, nil
}

// wakeIfWaiting wakes r's task when it waits on a step that has now fired
// (a signal came, a child ended): the next attempt replays to it.
func wakeIfWaiting(ctx context.Context, tx Tx, r *Row, match func(store.Step) bool, why string, now time.Time) (bool, error) {
	if r.Task.Status != api.TaskWaiting {
		return false, nil
	}
	steps, err := tx.Steps(ctx, r.Task.ID)
	if err != nil {
		return false, err
	}
	for _, s := range steps {
		if s.Status == api.StepWaiting && match(s) {
			msg := lifecycle.Wake(&r.Task, why, now)
			return true, tx.Write(ctx, Writes{Tasks: []Row{*r}, Events: []store.TaskEvent{stateEventOf(r, msg, now)}})
		}
	}
	return false, nil
}

// SendSignal keeps signal s for task id and wakes the task if it waits for
// it (see store.StepStore).
func (run Runner) SendSignal(ctx context.Context, workspaceID, id string, s store.Signal) (store.Signal, bool, store.Task, error) {
	var (
		got     store.Signal
		created bool
		out     store.Task
	)
	now := lifecycle.At(s.CreatedAt)
	err := run(ctx, func(tx Tx) error {
		r, err := tx.LockTask(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		out = r.Task
		if api.IsTerminal(r.Task.Status) {
			return fmt.Errorf("task is %s: %w", r.Task.Status, store.ErrConflict)
		}
		s.WorkspaceID, s.TaskID, s.CreatedAt = workspaceID, id, now
		if len(s.Data) == 0 {
			s.Data = json.RawMessage("null")
		}
		if got, created, err = tx.InsertSignal(ctx, s); err != nil {
			return err
		}
		if !created {
			return nil
		}
		if _, err := wakeIfWaiting(ctx, tx, &r, func(st store.Step) bool {
			return st.Kind == api.StepWait && st.WaitSignal == s.Name
		}, "signal "+s.Name, now); err != nil {
			return err
		}
		out = r.Task
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			out = store.Task{}
		}
		return store.Signal{}, false, out, fmt.Errorf("signal task %s: %w", id, err)
	}
	return got, created, out, nil
}

// childOutcome is the data of child's end signal to its parent.
func childOutcome(c store.Task) (json.RawMessage, error) {
	o := api.ChildOutcome{TaskID: c.ID, Status: c.Status, Output: c.Output, Error: c.Error}
	if c.Status != api.TaskSucceeded {
		o.Output = nil
		if o.Error == "" {
			o.Error = c.StatusReason
		}
	}
	if len(o.Output) == 0 {
		o.Output = json.RawMessage("null")
	}
	return json.Marshal(o)
}

// deliverChildEnd delivers, once, the end signal of child c to parent r's
// task (see WakeParent); delivered is false when it was delivered before.
func deliverChildEnd(ctx context.Context, tx Tx, r Row, c store.Task, now time.Time) (store.Signal, bool, error) {
	data, err := childOutcome(c)
	if err != nil {
		return store.Signal{}, false, err
	}
	name := api.ChildSignal(c.ID)
	return tx.InsertSignal(ctx, store.Signal{ID: ids.NewAt("sig", now), WorkspaceID: r.Task.WorkspaceID,
		TaskID: r.Task.ID, Name: name, Data: data, IdempotencyKey: name, CreatedAt: now})
}

// WakeParent delivers, once, the signal api.ChildSignal(child) to the
// parent of child (when it has ended) and wakes the parent if it waits for
// child: on a spawn step that waits for it, or on a wait for that signal.
// A parent in a terminal state ignores it.
func (run Runner) WakeParent(ctx context.Context, child store.Task, now time.Time) (store.Task, bool, error) {
	if child.ParentID == "" {
		return store.Task{}, false, nil
	}
	now = lifecycle.At(now)
	var (
		out   store.Task
		woken bool
	)
	err := run(ctx, func(tx Tx) error {
		woken = false
		r, err := tx.LockTask(ctx, child.WorkspaceID, child.ParentID)
		if err != nil {
			return err
		}
		out = r.Task
		if api.IsTerminal(r.Task.Status) {
			return nil
		}
		// The child's row, not the caller's copy, says how it ended.
		c, err := tx.LockTask(ctx, child.WorkspaceID, child.ID)
		if err != nil {
			return err
		}
		name, delivered := api.ChildSignal(child.ID), false
		if api.IsTerminal(c.Task.Status) {
			if _, delivered, err = deliverChildEnd(ctx, tx, r, c.Task, now); err != nil {
				return err
			}
		}
		woken, err = wakeIfWaiting(ctx, tx, &r, func(st store.Step) bool {
			return st.Kind == api.StepSpawn && st.ChildID == child.ID ||
				delivered && st.Kind == api.StepWait && st.WaitSignal == name
		}, "child "+child.ID+" "+c.Task.Status, now)
		out = r.Task
		return err
	})
	if err != nil {
		return store.Task{}, false, fmt.Errorf("wake parent %s of %s: %w", child.ParentID, child.ID, err)
	}
	return out, woken, nil
}

// WakeDue queues every waiting task whose timer passed or whose child
// ended, in batches of ExpireBatch.
func (run Runner) WakeDue(ctx context.Context, now time.Time) ([]store.Task, error) {
	now = lifecycle.At(now)
	var out []store.Task
	for {
		var batch []store.Task
		err := run(ctx, func(tx Tx) error {
			batch = batch[:0]
			rows, err := tx.LockWakeable(ctx, now, ExpireBatch)
			if err != nil {
				return err
			}
			events := make([]store.TaskEvent, 0, len(rows))
			for i := range rows {
				why := "timer"
				if rows[i].Task.WakeAt == nil || rows[i].Task.WakeAt.After(now) {
					why = "child ended"
				}
				msg := lifecycle.Wake(&rows[i].Task, why, now)
				events = append(events, stateEventOf(&rows[i], msg, now))
				batch = append(batch, rows[i].Task)
			}
			if len(rows) == 0 {
				return nil
			}
			return tx.Write(ctx, Writes{Tasks: rows, Events: events})
		})
		if err != nil {
			return out, fmt.Errorf("wake due tasks: %w", err)
		}
		out = append(out, batch...)
		if len(batch) < ExpireBatch {
			return out, nil
		}
	}
}

// UpdateTask sets the task's budget and priority (see store.StepStore).
func (run Runner) UpdateTask(ctx context.Context, workspaceID, id string, maxCost *int64, priority *int, now time.Time) (store.Task, error) {
	now = lifecycle.At(now)
	var out store.Task
	err := run(ctx, func(tx Tx) error {
		r, err := tx.LockTask(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		out = r.Task
		if api.IsTerminal(r.Task.Status) {
			return fmt.Errorf("task is %s: %w", r.Task.Status, store.ErrConflict)
		}
		if maxCost != nil {
			r.Task.MaxCostMicros = *maxCost
		}
		if priority != nil {
			r.Task.Priority = *priority
		}
		if err := tx.SetTaskBudget(ctx, id, r.Task.MaxCostMicros, r.Task.Priority); err != nil {
			return err
		}
		if r.Task.Status == api.TaskWaiting && strings.HasPrefix(r.Task.StatusReason, api.WaitBudget) && maxCost != nil {
			msg := lifecycle.Wake(&r.Task, "budget raised", now)
			if err := tx.Write(ctx, Writes{Tasks: []Row{r}, Events: []store.TaskEvent{stateEventOf(&r, msg, now)}}); err != nil {
				return err
			}
		}
		out = r.Task
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			out = store.Task{}
		}
		return out, fmt.Errorf("update task %s: %w", id, err)
	}
	return out, nil
}

// RetryTask queues a finished or operator-waiting task again keeping its
// journal (see store.StepStore). Its earlier attempts no longer count
// against max_attempts: they are counted with the suspended ones.
func (run Runner) RetryTask(ctx context.Context, workspaceID, id, fromStep string, now time.Time) (store.Task, error) {
	now = lifecycle.At(now)
	var out store.Task
	err := run(ctx, func(tx Tx) error {
		r, err := tx.LockTask(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		out = r.Task
		t := &r.Task
		if !api.IsTerminal(t.Status) && !(t.Status == api.TaskWaiting && strings.HasPrefix(t.StatusReason, api.WaitOperator)) {
			return fmt.Errorf("task is %s (%s): %w", t.Status, t.StatusReason, store.ErrConflict)
		}
		from := 0
		if fromStep != "" {
			steps, err := tx.Steps(ctx, id)
			if err != nil {
				return err
			}
			for _, s := range steps {
				if s.Key == fromStep {
					from = s.Seq
				}
			}
			if from == 0 {
				return fmt.Errorf("step %s: %w", fromStep, store.ErrNotFound)
			}
		}
		if err := tx.DeleteSteps(ctx, id, from); err != nil {
			return err
		}
		t.Output, t.Error, t.FinishedAt = nil, "", nil
		t.SuspendedAttempts = t.Attempt
		reason := "retry"
		if fromStep != "" {
			reason += " from step " + fromStep
		}
		msg := lifecycle.Wake(t, reason, now)
		if err := tx.Write(ctx, Writes{Tasks: []Row{r}, Events: []store.TaskEvent{stateEventOf(&r, msg, now)}}); err != nil {
			return err
		}
		out = r.Task
		return nil
	})
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			out = store.Task{}
		}
		return out, fmt.Errorf("retry task %s: %w", id, err)
	}
	return out, nil
}
