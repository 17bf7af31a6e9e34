package agent

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/genericcorp/baton/pkg/api"
)

// A fan-out: Start the children, which run in parallel, then Join them.
// When a child task ends, in any state, the server signals its parent once
// with api.ChildSignal(id), whose data is how it ended (Child); Join waits
// for each child's signal in turn.
//
//	var ids []string
//	for i, page := range pages {
//		id, err := agent.Start(ctx, fmt.Sprintf("page-%d", i), "pages", page)
//		...
//		ids = append(ids, id)
//	}
//	children, err := agent.Join(ctx, "pages", ids...) // ErrSuspended: exit

// Child is how a child task ended: the data of its end signal.
type Child api.ChildOutcome

// Err is nil when the child succeeded, else an error naming its status
// and why.
func (c Child) Err() error {
	if c.Status == api.TaskSucceeded {
		return nil
	}
	return fmt.Errorf("child task %s %s: %s", c.TaskID, c.Status, c.Error)
}

// Start creates a child task with input in queue ("" is the default
// queue) without waiting for it, once, and returns its id.
func (c *Client) Start(ctx context.Context, key, queue string, input any) (string, error) {
	out, err := c.Spawn(ctx, key, queue, input, false)
	if err != nil {
		return "", err
	}
	var v struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal(out, &v); err != nil || v.TaskID == "" {
		return "", fmt.Errorf("spawn %s: answer %s has no task_id", key, out)
	}
	return v.TaskID, nil
}

// Join waits for the end of each child task of ids (Start's) and returns
// how each ended, in the order of ids: a wait step "KEY/ID" for the signal
// api.ChildSignal(ID) per child, so a replay answers the children that
// ended at once. A child that failed is an outcome (Child.Err), not an
// error. Errors: ErrSuspended (a child is still running: the task waits
// for it; exit), endpoint errors. Join each child once: its signal is
// delivered once.
func (c *Client) Join(ctx context.Context, key string, ids ...string) ([]Child, error) {
	out := make([]Child, 0, len(ids))
	for _, id := range ids {
		data, err := c.Wait(ctx, key+"/"+id, api.ChildSignal(id), 0)
		if err != nil {
			return nil, err
		}
		var ch Child
		if err := json.Unmarshal(data, &ch); err != nil {
			return nil, fmt.Errorf("join %s/%s: signal data %s: %w", key, id, data, err)
		}
		out = append(out, ch)
	}
	return out, nil
}

// Start creates a child task without waiting for it (Client.Start).
func Start(ctx context.Context, key, queue string, input any) (string, error) {
	c, err := clientOf(ctx)
	if err != nil {
		return "", err
	}
	return c.Start(ctx, key, queue, input)
}

// Join waits for the end of each child of ids (Client.Join).
func Join(ctx context.Context, key string, ids ...string) ([]Child, error) {
	c, err := clientOf(ctx)
	if err != nil {
		return nil, err
	}
	return c.Join(ctx, key, ids...)
}
