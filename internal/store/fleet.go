package store

import (
	"context"
	"time"
)

// Worker is a worker as last seen polling: a claim records it.
type Worker struct {
	WorkspaceID string // the polling key's workspace; "" (OperatorWorkspace) for a shared worker
	ID          string
	Host        string
	Version     string
	Queues      []string
	Concurrency int
	LastSeenAt  time.Time
	Running     int // read only: tasks leased to it now (ListWorkers fills it)
}

// QueueCount is one queue of a workspace: its tasks by status.
type QueueCount struct {
	Queue          string
	Counts         map[string]int // status → tasks (statuses with none left out)
	OldestQueuedAt time.Time      // zero when none is queued
}

// FleetStore knows the workers and the queues.
type FleetStore interface {
	// SeenWorker records w (its LastSeenAt, queues and concurrency),
	// replacing what was known of it.
	SeenWorker(ctx context.Context, w Worker) error
	// ListWorkers returns the workers of workspaceID (every worker when it
	// is AnyWorkspace; a shared worker has WorkspaceID "") seen at or after
	// since, ordered by workspace then id, with their running tasks.
	ListWorkers(ctx context.Context, workspaceID string, since time.Time) ([]Worker, error)
	// PruneWorkers deletes the workers last seen before before.
	PruneWorkers(ctx context.Context, before time.Time) error
	// ListQueues returns workspaceID's queues that have or had tasks,
	// ordered by name, from the counts the transitions keep (no scan of
	// tasks), with each one's oldest queued task.
	ListQueues(ctx context.Context, workspaceID string) ([]QueueCount, error)
}
