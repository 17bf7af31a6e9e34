package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// fakeJournal is the server's step rules in miniature: a run step runs
// until it is ended, then replays as done; a wait is done once its signal
// is there, else the attempt suspends; a sleep or spawn with wait suspends.
type fakeJournal struct {
	mu      sync.Mutex
	steps   map[string]*fakeStep
	signals map[string]json.RawMessage
	begins  []stepCall
	ends    []stepCall
}

type fakeStep struct {
	kind, status string
	output       json.RawMessage
	err          string
	runs         int
}

type stepCall struct {
	Key   string
	Begin api.StepBeginRequest
	End   api.StepEndRequest
}

type stepFake struct {
	*fakeAPI
	j *fakeJournal
}

func newStepFake() *stepFake {
	return &stepFake{fakeAPI: newFake(), j: &fakeJournal{steps: map[string]*fakeStep{}, signals: map[string]json.RawMessage{}}}
}

var _ StepAPI = (*stepFake)(nil)

func (f *stepFake) signal(name string, data string) {
	f.j.mu.Lock()
	defer f.j.mu.Unlock()
	f.j.signals[name] = json.RawMessage(data)
}

func (f *stepFake) BeginStep(_ context.Context, _, _, key string, req api.StepBeginRequest) (api.StepBeginResponse, error) {
	j := f.j
	j.mu.Lock()
	defer j.mu.Unlock()
	j.begins = append(j.begins, stepCall{Key: key, Begin: req})
	st := j.steps[key]
	if st != nil && st.kind != req.Kind {
		return api.StepBeginResponse{}, &client.APIError{Status: 409, Code: api.CodeConflict, Detail: "kind changed"}
	}
	resp := api.StepBeginResponse{Key: key, IdempotencyKey: "task/" + key}
	switch {
	case st != nil && (st.status == api.StepSucceeded || st.status == api.StepFailed):
		resp.Action, resp.Output, resp.Error = api.ActionDone, st.output, st.err
	case req.Kind == api.StepRun:
		if st == nil {
			st = &fakeStep{kind: api.StepRun}
			j.steps[key] = st
		} else {
			resp.PreviousOutcome = api.PreviousOutcomeUnknown
		}
		st.status, st.runs = api.StepRunning, st.runs+1
		resp.Action = api.ActionRun
	case req.Kind == api.StepWait:
		j.steps[key] = &fakeStep{kind: api.StepWait, status: api.StepWaiting}
		if data, ok := j.signals[req.Signal]; ok {
			j.steps[key] = &fakeStep{kind: api.StepWait, status: api.StepSucceeded, output: data}
			resp.Action, resp.Output = api.ActionDone, data
			break
		}
		resp.Action, resp.Reason = api.ActionSuspend, "signal: "+req.Signal
	default:
		j.steps[key] = &fakeStep{kind: req.Kind, status: api.StepWaiting}
		resp.Action, resp.Reason = api.ActionSuspend, req.Kind
	}
	return resp, nil
}

func (f *stepFake) EndStep(_ context.Context, _, _, key string, req api.StepEndRequest) (api.StepEndResponse, error) {
	j := f.j
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ends = append(j.ends, stepCall{Key: key, End: req})
	st := j.steps[key]
	if st == nil || st.status != api.StepRunning {
		return api.StepEndResponse{}, &client.APIError{Status: 409, Code: api.CodeConflict, Detail: fmt.Sprintf("step %s not running", key)}
	}
	st.status, st.output, st.err = api.StepSucceeded, req.Output, req.Error
	if req.Error != "" {
		st.status = api.StepFailed
	}
	return api.StepEndResponse{Action: api.ActionDone}, nil
}

func (f *stepFake) calls() (begins, ends []stepCall) {
	f.j.mu.Lock()
	defer f.j.mu.Unlock()
	return slicesClone(f.j.begins), slicesClone(f.j.ends)
}

func (f *stepFake) runs(key string) int {
	f.j.mu.Lock()
	defer f.j.mu.Unlock()
	if st := f.j.steps[key]; st != nil {
		return st.runs
	}
	return 0
}
