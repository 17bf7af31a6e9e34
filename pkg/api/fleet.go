package api

import "time"

// Worker is a worker seen polling in the last minute (GET /v1/workers). A
// worker is known by the worker_id it claims with; host and version come
// from its User-Agent and Baton-Worker-Host headers.
type Worker struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"workspace_id"` // the polling key's workspace; "" for an operator key's shared worker
	Host        string    `json:"host"`
	Version     string    `json:"version"`
	Queues      []string  `json:"queues"`
	Concurrency int       `json:"concurrency"` // the max_tasks of its last claim plus its running tasks
	Running     int       `json:"running"`     // tasks it holds a lease on now
	LastSeenAt  time.Time `json:"last_seen_at"`
}

// Queue is one queue of a workspace (GET /v1/queues): its tasks per state
// and the workers polling it in the last minute.
type Queue struct {
	Name           string     `json:"name"`
	Queued         int        `json:"queued"`  // claimable now or later (run_at)
	Held           int        `json:"held"`    // queued but held: the workspace is suspended or a quota is used up
	Running        int        `json:"running"` // leased to a worker
	Waiting        int        `json:"waiting"` // waiting for a timer, signal, child, operator or budget
	OldestQueuedAt *time.Time `json:"oldest_queued_at"`
	Pollers        int        `json:"pollers"` // workers seen polling the queue in the last minute
}
