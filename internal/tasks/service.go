// Package tasks is baton's task service: it owns the task lifecycle on top
// of the store — submit with admission, the long-poll claim with wake-ups,
// heartbeats (timeouts and quota termination), completion and failure with
// retry backoff, cancellation, logs and the lease reaper — and asks one
// place, package metering, the quota questions (admit, slots, terminate).
// HTTP handlers decode a request, call the service and encode its answer.
//
// How a claim works: Claim subscribes to the wake-up topics of the queues
// it serves, asks the store for as many tasks as the worker has free slots
// (store.TaskStore.ClaimTasks: round robin over workspaces, each capped by
// Slots, one transaction per workspace), and if it got none, waits for a
// wake-up, the poll interval or the caller's deadline and tries again.
package tasks

import (
	"context"
	"log/slog"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/genericcorp/baton/internal/notify"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Store is what the service needs of the store.
type Store interface {
	CreateTask(ctx context.Context, t store.Task, admit store.Admit) (store.Task, bool, error)
	CreateTasks(ctx context.Context, ts []store.Task, admits []store.Admit) ([]store.Created, error)
	ClaimTasks(ctx context.Context, p store.ClaimParams) ([]store.Task, error)
	Heartbeat(ctx context.Context, workspaceID, id string, attempt int, usage *store.Usage, now time.Time, lease time.Duration) (store.Task, error)
	Complete(ctx context.Context, workspaceID, id string, attempt int, o store.Outcome) (store.Task, error)
	EndTask(ctx context.Context, workspaceID, id string, attempt int, status, reason string, now time.Time) (store.Task, error)
	CancelTask(ctx context.Context, workspaceID, id, reason string, now time.Time) (store.Task, error)
	AppendLogs(ctx context.Context, workspaceID, id string, attempt int, lines []string, maxBytes int64, now time.Time) (store.LogResult, error)
	AppendStream(ctx context.Context, workspaceID, id string, attempt int, channel string, lines []string, maxBytes int64, now time.Time) (store.LogResult, error)
	ExpireLeases(ctx context.Context, now time.Time, backoff func(attempt int) time.Duration) ([]store.Task, error)
	UsageTotals(ctx context.Context, workspaceID string, at time.Time) (map[string]int64, error)
	SeenWorker(ctx context.Context, w store.Worker) error
	ListWorkers(ctx context.Context, workspaceID string, since time.Time) ([]store.Worker, error)
	PruneWorkers(ctx context.Context, before time.Time) error
	ListQueues(ctx context.Context, workspaceID string) ([]store.QueueCount, error)
	ListWorkspaces(ctx context.Context, p store.Page) ([]store.Workspace, error)
	GetTask(ctx context.Context, workspaceID, id string) (store.Task, error)
	ChildrenCost(ctx context.Context, workspaceID, id string) (int64, error)
	RaiseAlert(ctx context.Context, a store.Alert) (bool, error)
	PruneEvents(ctx context.Context, workspaceID string, before time.Time, limit int) (store.Pruned, error)
	StepStore
}

// Notifier wakes waiters by topic: *notify.Hub in one process, the
// PostgreSQL store's LISTEN/NOTIFY bridge across replicas.
type Notifier interface {
	// Notify wakes the waiters of topics.
	Notify(ctx context.Context, topics ...string)
	// Subscribe returns a channel closed at the next Notify of one of
	// topics, and a func to call when done waiting.
	Subscribe(topics ...string) (<-chan struct{}, func())
}

// Hooks let the server count what the service does (metrics) without the
// service knowing of them. Nil hooks are skipped.
type Hooks struct {
	// Transition is called with a status and how many tasks entered it.
	Transition func(status string, n int)
	// QuotaRefused is called for each submit refused and each running
	// task terminated for quota q.
	QuotaRefused func(q string)
	// Expired is called by Reap for each task whose lease expired.
	Expired func(t store.Task)
	// LogsDropped is called with the log lines dropped past a task's log
	// budget.
	LogsDropped func(n int)
	// AlertRaised is called for each task budget alert this service stored
	// first (the server logs, counts and sends it, as the evaluator's).
	AlertRaised func(store.Alert)
}

// Config tunes the service.
type Config struct {
	Store    Store
	Notifier Notifier // a new notify.Hub when nil
	// Limits returns a workspace's effective limits (tier and overrides).
	Limits func(ws store.Workspace) api.Limits
	// Lease is how long a claim or heartbeat holds a task (default 30 s).
	Lease time.Duration
	// HeartbeatInterval is what workers are told to use (default 5 s).
	HeartbeatInterval time.Duration
	// Poll bounds how long a claimer sleeps without a wake-up (default 1 s),
	// so retries coming due are seen even without a notification.
	Poll    time.Duration
	Backoff Backoff
	Now     func() time.Time
	Log     *slog.Logger
	Hooks   Hooks
}

// Service runs the task lifecycle. Its methods are safe for concurrent use.
type Service struct {
	cfg      Config
	fleet    fleet
	claimers claimers
	creates  creates
	// budgetRaised is the highest budget threshold raised per task id
	// (budgetalerts.go).
	budgetRaised *lru.Cache[string, int]
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Notifier == nil {
		cfg.Notifier = notify.New()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	h := &cfg.Hooks
	if h.Transition == nil {
		h.Transition = func(string, int) {}
	}
	if h.QuotaRefused == nil {
		h.QuotaRefused = func(string) {}
	}
	if h.Expired == nil {
		h.Expired = func(store.Task) {}
	}
	if h.LogsDropped == nil {
		h.LogsDropped = func(int) {}
	}
	if h.AlertRaised == nil {
		h.AlertRaised = func(store.Alert) {}
	}
	return &Service{cfg: cfg, budgetRaised: newBudgetMemo()}
}

// Lease is the lease length.
func (s *Service) Lease() time.Duration { return s.cfg.Lease }

// HeartbeatInterval is the interval workers are told to heartbeat at.
func (s *Service) HeartbeatInterval() time.Duration { return s.cfg.HeartbeatInterval }

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// Wake-up topics. A change to a task wakes its event followers and its
// workspace's usage streams; a task that becomes claimable wakes the
// claimers of its queue (those serving its workspace and the shared
// workers); an attempt that ends or pauses frees a slot, which wakes only
// the claimers that found its workspace unable to start more (SlotTopic).

// TaskTopic is the topic of task id's changes (event streams).
func TaskTopic(id string) string { return "task:" + id }

// WorkspaceTopic is the topic of changes to a workspace's tasks and usage.
func WorkspaceTopic(id string) string { return "ws:" + id }

// QueueTopic is the topic of claimers of queue in workspace (or
// store.AnyWorkspace: shared workers).
func QueueTopic(workspace, queue string) string { return "queue:" + workspace + "/" + queue }

// SlotTopic is the topic of the claimers of workspace (or
// store.AnyWorkspace: shared workers) whose last try found it could start
// no more tasks (concurrency cap, quota): an attempt of it that ends may
// free a slot. Claimers that found their queue empty do not wait for it —
// a completion of a workspace that is not at its cap makes nothing
// claimable, and woke every idle claimer of the queue for a claim that
// found nothing (in the mixed benchmark, two empty claims per task).
func SlotTopic(workspace string) string { return "slots:" + workspace }

// changed wakes whoever waits for t: followers of the task, streams of its
// workspace, claimers of its queue if it is queued, and claimers waiting
// for a slot if it is neither queued nor running (an attempt ended or
// paused, or a queued task left).
func (s *Service) changed(ctx context.Context, ts ...store.Task) {
	topics := make([]string, 0, 4*len(ts))
	for _, t := range ts {
		topics = append(topics, TaskTopic(t.ID), WorkspaceTopic(t.WorkspaceID))
		switch t.Status {
		case api.TaskQueued:
			topics = append(topics, QueueTopic(t.WorkspaceID, t.Queue), QueueTopic(store.AnyWorkspace, t.Queue))
		case api.TaskRunning:
		default:
			topics = append(topics, SlotTopic(t.WorkspaceID), SlotTopic(store.AnyWorkspace))
		}
	}
	s.cfg.Notifier.Notify(context.WithoutCancel(ctx), topics...)
}

// Subscribe waits for topics (TaskTopic, WorkspaceTopic, QueueTopic): see
// Notifier.
func (s *Service) Subscribe(topics ...string) (<-chan struct{}, func()) {
	return s.cfg.Notifier.Subscribe(topics...)
}

// Notify wakes the waiters of topics (changes made outside the service,
// such as metered API calls).
func (s *Service) Notify(ctx context.Context, topics ...string) {
	s.cfg.Notifier.Notify(ctx, topics...)
}
