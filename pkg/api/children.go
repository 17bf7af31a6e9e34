package api

import "encoding/json"

// A child task's end is signalled to its parent (docs/steps.md, "Fan-out
// and join"): when a task spawned by a step ends, in any terminal status,
// the server delivers to its parent, once, the signal ChildSignal(id) whose
// data is the child's ChildOutcome. A parent spawns its children without
// waiting and joins each with a wait for that signal.

// ChildSignalPrefix begins the name of a child's end signal.
const ChildSignalPrefix = "child:"

// ChildSignal is the name of the signal child task id's end delivers to
// its parent (also the signal's idempotency key: it is delivered once).
func ChildSignal(id string) string { return ChildSignalPrefix + id }

// ChildOutcome is how a child task ended: the data of its ChildSignal.
type ChildOutcome struct {
	TaskID string `json:"task_id"`
	Status string `json:"status"` // a terminal task status
	// Output is the child's output (null unless it succeeded).
	Output json.RawMessage `json:"output"`
	// Error is why it did not succeed: its error, or its status reason
	// (e.g. a cancel's reason); "" when it succeeded.
	Error string `json:"error"`
}
