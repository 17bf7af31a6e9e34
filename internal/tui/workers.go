package tui

import (
	"context"
	"sync"

	"github.com/genericcorp/baton/pkg/api"
)

// maxWorkerLookups bounds the task reads one TaskWorkers call makes: the
// WORKER column fills over a few refreshes rather than spending a burst of
// the workspace's request budget at once.
const maxWorkerLookups = 8

// workerCache remembers which worker holds which attempt of a task: a
// lease does not change hands within an attempt, so each (task, attempt)
// is read once.
type workerCache struct {
	mu   sync.Mutex
	seen map[string]seenWorker // by task id
}

type seenWorker struct {
	attempt int
	worker  string
}

// TaskWorkers implements Source: the worker of each running task of tasks,
// from the task's last attempt (GET /v1/tasks/{id}, at most
// maxWorkerLookups new ones per call). Best effort: a task that could not
// be read is left out, and tried again next time.
func (s *ClientSource) TaskWorkers(ctx context.Context, tasks []api.Task) map[string]string {
	return s.workers.lookup(ctx, tasks, func(ctx context.Context, id string) (api.Task, error) { return s.Client.GetTask(ctx, id) })
}

// lookup returns the workers of the running tasks of tasks, reading with
// get the ones not seen at their current attempt; it forgets tasks that
// are no longer running.
func (c *workerCache) lookup(ctx context.Context, tasks []api.Task, get func(context.Context, string) (api.Task, error)) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	running := map[string]bool{}
	out := map[string]string{}
	reads := 0
	for _, t := range tasks {
		if t.Status != api.TaskRunning {
			continue
		}
		running[t.ID] = true
		if w, ok := c.seen[t.ID]; ok && w.attempt == t.Attempt {
			out[t.ID] = w.worker
			continue
		}
		if reads == maxWorkerLookups || ctx.Err() != nil {
			continue
		}
		reads++
		full, err := get(ctx, t.ID)
		if err != nil || len(full.Attempts) == 0 {
			continue
		}
		last := full.Attempts[len(full.Attempts)-1]
		if last.WorkerID == "" || last.Number != t.Attempt {
			continue // the task moved on meanwhile: next time
		}
		if c.seen == nil {
			c.seen = map[string]seenWorker{}
		}
		c.seen[t.ID] = seenWorker{attempt: t.Attempt, worker: last.WorkerID}
		out[t.ID] = last.WorkerID
	}
	for id := range c.seen {
		if !running[id] {
			delete(c.seen, id)
		}
	}
	return out
}
