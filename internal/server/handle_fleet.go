package server

import (
	"net/http"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/pkg/api"
)

// handleWorkers lists the workers seen polling in the last minute: the
// workspace's own, or — an operator key without Baton-Workspace — every
// worker, shared ones included. Not paginated (next_cursor is null).
func (s *Server) handleWorkers(w http.ResponseWriter, r *http.Request, p *principal) error {
	id := p.workspaceID
	if id == store.OperatorWorkspace {
		id = store.AnyWorkspace
	}
	got, err := s.tasks.Workers(r.Context(), id)
	if err != nil {
		return err
	}
	out := api.List[api.Worker]{Data: make([]api.Worker, len(got))}
	for i, wk := range got {
		queues := wk.Queues
		if queues == nil {
			queues = []string{}
		}
		out.Data[i] = api.Worker{ID: wk.ID, WorkspaceID: wk.WorkspaceID, Host: wk.Host, Version: wk.Version,
			Queues: queues, Concurrency: wk.Concurrency, Running: wk.Running, LastSeenAt: wk.LastSeenAt}
	}
	encode(w, http.StatusOK, out)
	return nil
}

// handleQueues lists the workspace's queues with their tasks per state and
// pollers, from counters (no scan of tasks). Not paginated.
func (s *Server) handleQueues(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	got, err := s.tasks.Queues(r.Context(), *p.workspace)
	if err != nil {
		return err
	}
	out := api.List[api.Queue]{Data: make([]api.Queue, len(got))}
	for i, q := range got {
		out.Data[i] = apiQueue(q)
	}
	encode(w, http.StatusOK, out)
	return nil
}

func apiQueue(q tasks.Queue) api.Queue {
	out := api.Queue{Name: q.Name, Queued: q.Queued, Held: q.Held, Running: q.Running, Waiting: q.Waiting, Pollers: q.Pollers}
	if !q.OldestQueuedAt.IsZero() {
		t := q.OldestQueuedAt.UTC().Truncate(time.Microsecond)
		out.OldestQueuedAt = &t
	}
	return out
}
