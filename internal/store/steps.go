package store

import (
	"context"
	"encoding/json"
	"time"
)

// Step is one entry of a task's journal (docs/steps.md).
type Step struct {
	TaskID      string
	WorkspaceID string
	Key         string // the journal key: BaseKey, or BaseKey#n when repeated within an attempt
	BaseKey     string // the program's key
	Kind        string // api.StepRun, StepSleep, StepWait, StepSpawn
	Status      string // api.StepRunning, StepSucceeded, StepFailed, StepWaiting
	Attempts    int    // how many times it was begun to run
	Attempt     int    // the task attempt that began it last
	SeenAttempt int    // the last task attempt that reached it (replays too)
	AtMostOnce  bool
	InputHash   string
	Output      json.RawMessage
	Error       string
	// Usage charged to the step: the attempt's growth from the begin's
	// totals (Base*) to the end's.
	ExecutionMS, Tokens, CostMicros             int64
	BaseExecutionMS, BaseTokens, BaseCostMicros int64
	// Waste* is the usage of runs whose attempt died inside the step: it
	// stays billed and is reported as retry_waste.
	WasteExecutionMS, WasteTokens, WasteCostMicros int64
	WaitReason                                     string // api.Wait*: what a waiting step waits for
	WaitSignal                                     string
	ChildID                                        string
	WakeAt                                         *time.Time
	Seq                                            int // order in the journal
	StartedAt                                      time.Time
	FinishedAt                                     *time.Time
}

// Signal is a signal sent to a task, kept until a wait consumes it.
type Signal struct {
	ID             string
	WorkspaceID    string
	TaskID         string
	Seq            int64
	Name           string
	Data           json.RawMessage
	IdempotencyKey string
	ConsumedBy     string // the wait step that received it
	CreatedAt      time.Time
}

// StepBegin is a step begin of attempt Attempt.
type StepBegin struct {
	Key        string // the program's key
	Attempt    int
	Kind       string
	AtMostOnce bool
	InputHash  string
	Until      time.Time     // sleep
	Signal     string        // wait
	Timeout    time.Duration // wait (0: none)
	// Child is the task a spawn creates (its ID, queue, input … set by the
	// caller; ParentID and WorkspaceID are set by the store) and SpawnWait
	// whether the parent waits for it.
	Child     *Task
	SpawnWait bool
	Usage     *Usage
	Now       time.Time
	Lease     time.Duration
	// Budget, asked before a run step begins with the task, its children's
	// cost and the workspace's use of the period, returns "" to go on, or
	// why the task must wait for budget and when that wait ends by itself
	// (nil: when the budget is raised).
	Budget func(t Task, childCost int64, used Consumed) (reason string, until *time.Time)
}

// StepBegun answers a begin (api.StepBeginResponse).
type StepBegun struct {
	Task            Task
	Action          string
	Key             string
	Output          json.RawMessage
	Error           string
	PreviousOutcome string
	IdempotencyKey  string
	Reason          string
	// Child is the task a spawn created (zero otherwise).
	Child Task
}

// StepEnd ends the running step Key of attempt Attempt.
type StepEnd struct {
	Key     string
	Attempt int
	Output  json.RawMessage
	Error   string
	Failed  bool
	Usage   *Usage
	Now     time.Time
	Lease   time.Duration
}

// StepStore is the journal of durable steps. Every write is one
// transaction with the task's usage events and events; a step call of an
// attempt that is not current and running is ErrStale (with the task).
type StepStore interface {
	// BeginStep begins (or replays) a step of the running attempt
	// b.Attempt. See docs/steps.md for the rules.
	BeginStep(ctx context.Context, workspaceID, id string, b StepBegin) (StepBegun, error)
	// EndStep records the outcome of a running step begun by e.Attempt
	// and charges it the attempt's usage growth since the begin.
	// ErrNotFound if no such step; ErrConflict if it is not running in
	// that attempt.
	EndStep(ctx context.Context, workspaceID, id string, e StepEnd) (Task, error)
	// ListSteps returns the task's journal in order. ErrNotFound if the
	// task is absent.
	ListSteps(ctx context.Context, workspaceID, id string) ([]Step, error)
	// SendSignal keeps s for the task and wakes the task if it waits for
	// a signal of that name. A signal whose IdempotencyKey the task has
	// seen answers the first one with created=false. ErrNotFound if the
	// task is absent, ErrConflict (with the task) if it is terminal.
	SendSignal(ctx context.Context, workspaceID, id string, s Signal) (sig Signal, created bool, t Task, err error)
	// WakeDue queues again every waiting task (any workspace: the
	// reaper's call) whose timer passed at now, and every task waiting
	// for a child that has ended. It returns the tasks woken.
	WakeDue(ctx context.Context, now time.Time) ([]Task, error)
	// WakeParent queues again the parent of child if it waits for it.
	WakeParent(ctx context.Context, child Task, now time.Time) (Task, bool, error)
	// UpdateTask sets the task's budget and/or priority (nil: unchanged);
	// a task waiting for budget is queued again. ErrNotFound if absent,
	// ErrConflict (with the task) if it is terminal.
	UpdateTask(ctx context.Context, workspaceID, id string, maxCostMicros *int64, priority *int, now time.Time) (Task, error)
	// RetryTask queues a finished task, or one waiting for an operator,
	// again keeping its journal: the steps from fromStep on ("" : none but
	// the running ones) are cleared. ErrNotFound if absent or fromStep is
	// not in the journal; ErrConflict (with the task) if it is queued,
	// running, or waiting for anything but an operator.
	RetryTask(ctx context.Context, workspaceID, id, fromStep string, now time.Time) (Task, error)
}
