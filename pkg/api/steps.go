package api

import (
	"encoding/json"
	"time"
)

// TaskWaiting is the state of a task that sleeps, waits for a signal, a
// child task, an operator or budget (CONTRACT.md "Steps, waits and
// signals"). It holds no lease and no concurrency slot and accrues no
// execution time; it is not terminal. StatusReason says what it waits for.
const TaskWaiting = "waiting"

// Step kinds.
const (
	StepRun   = "run"
	StepSleep = "sleep"
	StepWait  = "wait"
	StepSpawn = "spawn"
)

// StepKinds lists every step kind.
var StepKinds = []string{StepRun, StepSleep, StepWait, StepSpawn}

// Step statuses in the journal.
const (
	StepRunning   = "running"   // begun by an attempt, not ended
	StepSucceeded = "succeeded" // ended with an output: replays answer done
	StepFailed    = "failed"    // ended with an error: replays answer done with the error
	StepWaiting   = "waiting"   // a sleep, wait or spawn that has not fired yet
)

// Actions a step begin answers.
const (
	// ActionRun: run the step now, then end it.
	ActionRun = "run"
	// ActionDone: the journal holds the step's outcome (Output or Error);
	// do not run it.
	ActionDone = "done"
	// ActionSuspend: the task now waits (sleep, signal, child, budget,
	// operator); stop the program, the attempt ends as suspended.
	ActionSuspend = "suspend"
	// ActionStop: the attempt is over (cancelled, fenced, terminated);
	// stop the program and report nothing.
	ActionStop = "stop"
)

// Waiting reasons, in a waiting task's status_reason and a step's
// wait.reason.
const (
	WaitSleep    = "sleep"
	WaitSignal   = "signal"
	WaitChild    = "child"
	WaitOperator = "operator"
	WaitBudget   = "budget"
)

// PreviousOutcomeUnknown is a begin's previous_outcome when an earlier
// attempt began the step and died before ending it.
const PreviousOutcomeUnknown = "unknown"

// Limits on steps.
const (
	MaxStepKeyLen      = 200
	MaxStepOutputBytes = 256 << 10
	MaxSignalNameLen   = 200
	MaxSignalDataBytes = 256 << 10
)

// StepBeginRequest is the body of POST /v1/tasks/{id}/steps/{key}/begin.
// The key in the path is the program's key; the server numbers a key that
// repeats within one attempt KEY#2, KEY#3 … in the order of the begins.
type StepBeginRequest struct {
	Attempt    int    `json:"attempt"`
	Kind       string `json:"kind"`
	AtMostOnce bool   `json:"at_most_once,omitempty"`
	// InputHash, when set, is compared with the recorded step's: a replay
	// whose input changed is a 409 (the program is not deterministic).
	InputHash string `json:"input_hash,omitempty"`
	// Until is when a sleep ends.
	Until *time.Time `json:"until,omitempty"`
	// Signal and TimeoutSeconds are a wait's signal name and how long to
	// wait for it (0: no limit). A wait that times out is done with a null
	// output and Error "timeout".
	Signal         string `json:"signal,omitempty"`
	TimeoutSeconds int64  `json:"timeout_seconds,omitempty"`
	// Queue, Input and Wait describe a spawn: the child task's queue and
	// input, and whether the parent waits for the child's outcome.
	Queue string          `json:"queue,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	Wait  bool            `json:"wait,omitempty"`
	// Usage is the attempt's running totals so far (as in a heartbeat):
	// the server accrues them to the attempt and takes them as the step's
	// baseline.
	Usage *UsageReport `json:"usage,omitempty"`
}

// StepBeginResponse tells the program what to do with the step.
type StepBeginResponse struct {
	Action string `json:"action"`
	// Key is the journal's key of this step (KEY, or KEY#n when repeated).
	Key string `json:"key"`
	// Output and Error are the recorded outcome when Action is done: a run's
	// output, a wait's signal data, a spawn's child output (or its id as
	// {"task_id": …} without wait).
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	// PreviousOutcome is "unknown" when an earlier attempt began this step
	// and died before ending it.
	PreviousOutcome string `json:"previous_outcome,omitempty"`
	// IdempotencyKey is stable across attempts ("task_…/KEY"): pass it to
	// providers so a step run twice is charged once.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Reason says why the task suspends or stops.
	Reason string `json:"reason,omitempty"`
}

// StepEndRequest is the body of POST /v1/tasks/{id}/steps/{key}/end; key is
// the journal key the begin answered. Either Output or Error.
type StepEndRequest struct {
	Attempt int             `json:"attempt"`
	Output  json.RawMessage `json:"output,omitempty"`
	Error   string          `json:"error,omitempty"`
	// Usage is the attempt's running totals at the end (as in a
	// heartbeat, never lowered): the server accrues them to the attempt,
	// so metering stays per attempt, and charges the difference from the
	// begin's totals to the step in the journal. The supervisor sends its
	// totals (`::baton usage` lines plus what the agent reported at this
	// end), so usage is charged to the step that is open.
	Usage *UsageReport `json:"usage,omitempty"`
}

// StepEndResponse answers a step end. Action is done, or stop when the
// attempt is over (budget reached with no journal to resume from,
// cancelled…).
type StepEndResponse struct {
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
}

// Step is one entry of a task's journal (GET /v1/tasks/{id}/steps).
type Step struct {
	Key        string          `json:"key"`
	Kind       string          `json:"kind"`
	Status     string          `json:"status"`
	Attempts   int             `json:"attempts"`
	Output     json.RawMessage `json:"output"`
	Error      string          `json:"error"`
	Usage      TaskUsage       `json:"usage"`
	Wait       *StepWaitFor    `json:"wait"`
	StartedAt  time.Time       `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
}

// StepWaitFor is what a sleep, wait or spawn step waits for.
type StepWaitFor struct {
	Reason string     `json:"reason"`
	Signal string     `json:"signal,omitempty"`
	TaskID string     `json:"task_id,omitempty"`
	WakeAt *time.Time `json:"wake_at,omitempty"`
}

// StepList is GET /v1/tasks/{id}/steps.
type StepList struct {
	Data []Step `json:"data"`
}

// SignalRequest is the body of POST /v1/tasks/{id}/signals/{name}.
type SignalRequest struct {
	Data json.RawMessage `json:"data,omitempty"`
}

// Signal is a delivered signal.
type Signal struct {
	ID        string          `json:"id"`
	TaskID    string          `json:"task_id"`
	Name      string          `json:"name"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
	// ConsumedBy is the wait step that received it, once one has.
	ConsumedBy string `json:"consumed_by,omitempty"`
}

// UpdateTaskRequest is the body of PATCH /v1/tasks/{id}: a budget raised
// (a task waiting for budget resumes) or a new priority.
type UpdateTaskRequest struct {
	MaxCostMicros *int64 `json:"max_cost_micros,omitempty"`
	Priority      *int   `json:"priority,omitempty"`
}

// RetryTaskRequest is the body of POST /v1/tasks/{id}/retry: run a finished
// (or operator-waiting) task again keeping its journal; steps from FromStep
// on run again.
type RetryTaskRequest struct {
	FromStep string `json:"from_step,omitempty"`
}
