package agent

import (
	"encoding/json"

	"github.com/genericcorp/baton/pkg/api"
)

// The local step protocol between an agent and its supervisor (docs/steps.md
// "The agent side"). Each attempt's environment holds EnvStepURL, an HTTP
// endpoint on 127.0.0.1 that the supervisor serves for that attempt only, and
// EnvStepToken, the attempt's bearer token: the only credential an agent
// sees. Every call is a POST of JSON (GET for PathInfo) with
// "Authorization: Bearer TOKEN"; the supervisor adds the attempt number and
// its usage totals and forwards it to the server.
const (
	EnvStepURL   = "BATON_STEP_URL"
	EnvStepToken = "BATON_STEP_TOKEN"
)

// Paths of the local endpoint, under EnvStepURL.
const (
	PathBegin = "/begin" // BeginRequest → Answer
	PathEnd   = "/end"   // EndRequest → Answer
	PathSleep = "/sleep" // SleepRequest → Answer
	PathWait  = "/wait"  // WaitRequest → Answer
	PathSpawn = "/spawn" // SpawnRequest → Answer
	PathEmit  = "/emit"  // EmitRequest → Answer
	PathUsage = "/usage" // api.UsageReport → Answer
	PathInfo  = "/info"  // GET → AttemptInfo
)

// MaxShortSleepSeconds is the longest sleep that blocks in place: the
// supervisor records it as a run step and sleeps in the attempt. A longer
// sleep suspends the task (it holds no slot while it sleeps).
const MaxShortSleepSeconds = 10

// BeginRequest begins (or replays) a run step.
type BeginRequest struct {
	Key        string `json:"key"`
	AtMostOnce bool   `json:"at_most_once,omitempty"`
	InputHash  string `json:"input_hash,omitempty"`
}

// EndRequest ends the run step Key (the journal key its begin answered)
// with an output or an error, and the usage spent inside it that was not
// reported otherwise (added to the attempt's totals).
type EndRequest struct {
	Key    string           `json:"key"`
	Output json.RawMessage  `json:"output,omitempty"`
	Error  string           `json:"error,omitempty"`
	Usage  *api.UsageReport `json:"usage,omitempty"`
}

// SleepRequest is a durable sleep of DurationMS.
type SleepRequest struct {
	Key        string `json:"key"`
	DurationMS int64  `json:"duration_ms"`
}

// WaitRequest waits for Signal, at most TimeoutSeconds (0: no limit).
type WaitRequest struct {
	Key            string `json:"key"`
	Signal         string `json:"signal"`
	TimeoutSeconds int64  `json:"timeout_seconds,omitempty"`
}

// SpawnRequest creates a child task; with Wait the step's output is the
// child's output.
type SpawnRequest struct {
	Key   string          `json:"key"`
	Queue string          `json:"queue,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
	Wait  bool            `json:"wait,omitempty"`
}

// EmitRequest sends lines to the task's events as stream events on Channel
// ("" for none; at most api.MaxChannelBytes, no spaces or control
// characters, else a 400).
type EmitRequest struct {
	Channel string   `json:"channel,omitempty"`
	Lines   []string `json:"lines"`
}

// Answer is the supervisor's answer to a step call: the server's begin
// answer (Action run, done, suspend or stop, with the journal's outcome).
type Answer = api.StepBeginResponse

// AttemptInfo describes the attempt.
type AttemptInfo struct {
	TaskID      string `json:"task_id"`
	Attempt     int    `json:"attempt"`
	Queue       string `json:"queue"`
	WorkspaceID string `json:"workspace_id"`
}
