package tui

import (
	"context"
	"errors"
	"slices"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// Source is where the monitor reads from. Every call happens inside a
// tea.Cmd, never in Update.
type Source interface {
	// Watch follows the workspace's quota snapshots until ctx ends (see
	// client.WatchQuota).
	Watch(ctx context.Context) <-chan client.QuotaUpdate
	// Tasks returns the running tasks and the recently finished ones.
	Tasks(ctx context.Context) ([]api.Task, error)
	// Alerts returns the open alerts.
	Alerts(ctx context.Context) ([]api.Alert, error)
	// AdminUsage returns every workspace's quota (operator key).
	AdminUsage(ctx context.Context) ([]api.Quota, error)
	// TaskDetail returns a task with its attempts and its events (the
	// enter key on a task pane).
	TaskDetail(ctx context.Context, id string) (api.Task, []api.TaskEvent, error)
	// CancelTask cancels a queued or running task (the `c` key).
	CancelTask(ctx context.Context, id string) (api.Task, error)
	// Workspace returns a Source acting on workspace id (operator key),
	// used to drill into one workspace from the admin list.
	Workspace(id string) (Source, error)
	// UsageToday returns the workspace's usage of the current UTC day by
	// hour (GET /v1/usage), which seeds the day's sparkline.
	UsageToday(ctx context.Context) (api.UsageSeries, error)
	// TaskWorkers returns the worker holding each running task of tasks,
	// by task id (the running pane's WORKER column). Best effort: a task it
	// could not learn about is left out.
	TaskWorkers(ctx context.Context, tasks []api.Task) map[string]string
	// FollowLogs follows the events of task id (the `l` key) until ctx
	// ends or the task does; the channel closes then, after a LogUpdate
	// with Final or Err set.
	FollowLogs(ctx context.Context, id string) <-chan LogUpdate
}

// LogUpdate is one message of FollowLogs: an event, or the end of the
// stream (Final is the task's final status) or its failure (Err).
type LogUpdate struct {
	Event *api.TaskEvent
	Final string
	Err   error
}

// recentTasks is how many tasks of each kind (running, any) Tasks reads.
const recentTasks = 50

// ClientSource is a Source over the API client.
type ClientSource struct {
	Client *client.Client
	// Watch tunes the quota watch.
	WatchOptions client.WatchOptions
	// ForWorkspace returns a client acting on a workspace, for drilling in
	// with an operator key (nil: drilling in is an error).
	ForWorkspace func(id string) (*client.Client, error)

	workers workerCache
}

// Watch implements Source.
func (s *ClientSource) Watch(ctx context.Context) <-chan client.QuotaUpdate {
	return s.Client.WatchQuota(ctx, s.WatchOptions)
}

// Tasks implements Source: the running tasks, the queued (and held) ones,
// the waiting ones, then the newest finished ones, each list newest first.
// A server that does not know the status waiting yet (it answers 4xx to
// the filter) just has none.
func (s *ClientSource) Tasks(ctx context.Context) ([]api.Task, error) {
	running, err := s.Client.ListTasks(ctx, client.TaskListOptions{Status: api.TaskRunning, ListOptions: client.ListOptions{Limit: recentTasks}})
	if err != nil {
		return nil, err
	}
	queued, err := s.Client.ListTasks(ctx, client.TaskListOptions{Status: api.TaskQueued, ListOptions: client.ListOptions{Limit: recentTasks}})
	if err != nil {
		return nil, err
	}
	running.Data = append(running.Data, queued.Data...)
	waiting, err := s.Client.ListTasks(ctx, client.TaskListOptions{Status: api.TaskWaiting, ListOptions: client.ListOptions{Limit: recentTasks}})
	var apiErr *client.APIError
	switch {
	case err == nil:
		running.Data = append(running.Data, waiting.Data...)
	case errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != 401 && apiErr.Status != 403 && apiErr.Status != 429:
		// An older server: no waiting tasks.
	default:
		return nil, err
	}
	newest, err := s.Client.ListTasks(ctx, client.TaskListOptions{ListOptions: client.ListOptions{Limit: recentTasks}})
	if err != nil {
		return nil, err
	}
	out := slices.Clone(running.Data)
	for _, t := range newest.Data {
		if api.IsTerminal(t.Status) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Alerts implements Source: the first page of open alerts.
func (s *ClientSource) Alerts(ctx context.Context) ([]api.Alert, error) {
	l, err := s.Client.ListAlerts(ctx, client.AlertListOptions{ListOptions: client.ListOptions{Limit: recentTasks}})
	return l.Data, err
}

// TaskDetail implements Source.
func (s *ClientSource) TaskDetail(ctx context.Context, id string) (api.Task, []api.TaskEvent, error) {
	t, err := s.Client.GetTask(ctx, id)
	if err != nil {
		return t, nil, err
	}
	evs, err := s.Client.ListTaskEvents(ctx, id, 0)
	return t, evs, err
}

// CancelTask implements Source.
func (s *ClientSource) CancelTask(ctx context.Context, id string) (api.Task, error) {
	return s.Client.CancelTask(ctx, id)
}

// AdminUsage implements Source.
func (s *ClientSource) AdminUsage(ctx context.Context) ([]api.Quota, error) {
	return s.Client.AdminUsage(ctx)
}

// UsageToday implements Source: the usage of the current UTC day, by hour.
func (s *ClientSource) UsageToday(ctx context.Context) (api.UsageSeries, error) {
	now := time.Now().UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return s.Client.Usage(ctx, client.UsageOptions{From: day, To: day.Add(24 * time.Hour), Granularity: api.GranularityHour})
}

// FollowLogs implements Source over GET /v1/tasks/{id}/events (resumed
// after drops by the client).
func (s *ClientSource) FollowLogs(ctx context.Context, id string) <-chan LogUpdate {
	out := make(chan LogUpdate)
	go func() {
		defer close(out)
		send := func(u LogUpdate) bool {
			select {
			case out <- u:
				return true
			case <-ctx.Done():
				return false
			}
		}
		final, err := s.Client.FollowTaskEvents(ctx, id, 0, func(ev api.TaskEvent) error {
			if !send(LogUpdate{Event: &ev}) {
				return ctx.Err()
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		send(LogUpdate{Final: final, Err: err})
	}()
	return out
}

// Workspace implements Source.
func (s *ClientSource) Workspace(id string) (Source, error) {
	if s.ForWorkspace == nil {
		return nil, errNoDrill
	}
	c, err := s.ForWorkspace(id)
	if err != nil {
		return nil, err
	}
	return &ClientSource{Client: c, WatchOptions: s.WatchOptions}, nil
}

type tuiError string

func (e tuiError) Error() string { return string(e) }

const errNoDrill = tuiError("this source cannot open a single workspace")

// Messages. Each loop message carries the generation that started it;
// Update drops messages of an older generation, so after a pause, resume
// or drill-in exactly one tick loop and one watch are live.
type (
	// watchStartedMsg hands Update the channel of a new watch and the
	// function that stops it.
	watchStartedMsg struct {
		gen    int
		ch     <-chan client.QuotaUpdate
		cancel context.CancelFunc
	}
	// updateMsg is one message of the watch; closed means the channel closed.
	updateMsg struct {
		gen    int
		u      client.QuotaUpdate
		closed bool
	}
	// tickMsg is the clock: it moves time-to-reset and task durations on
	// and paces the refresh of tasks, alerts and the admin list.
	tickMsg struct {
		gen int
		at  time.Time
	}
	tasksMsg struct {
		gen     int
		tasks   []api.Task
		workers map[string]string // of the running tasks, by task id
		err     error
	}
	alertsMsg struct {
		gen    int
		alerts []api.Alert
		err    error
	}
	adminMsg struct {
		gen    int
		quotas []api.Quota
		err    error
	}
	// sourceMsg hands Update the source of a workspace drilled into.
	sourceMsg struct {
		gen int
		src Source
		err error
	}
)

// startWatch opens a watch on src in a context of its own.
func startWatch(gen int, src Source) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithCancel(context.Background())
		return watchStartedMsg{gen: gen, ch: src.Watch(ctx), cancel: cancel}
	}
}

// nextUpdate waits for the next message of ch.
func nextUpdate(gen int, ch <-chan client.QuotaUpdate) tea.Cmd {
	return func() tea.Msg {
		u, ok := <-ch
		return updateMsg{gen: gen, u: u, closed: !ok}
	}
}

// stop calls cancel (ending a watch) outside Update.
func stop(cancel context.CancelFunc) tea.Cmd {
	if cancel == nil {
		return nil
	}
	return func() tea.Msg { cancel(); return nil }
}

// tick sends the time after d.
func tick(gen int, d time.Duration) tea.Cmd {
	return tea.Tick(d, func(t time.Time) tea.Msg { return tickMsg{gen: gen, at: t} })
}

// fetchTimeout bounds one read of tasks, alerts or the admin list.
const fetchTimeout = 10 * time.Second

func fetchTasks(gen int, src Source) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		t, err := src.Tasks(ctx)
		var workers map[string]string
		if err == nil {
			workers = src.TaskWorkers(ctx, t)
		}
		return tasksMsg{gen: gen, tasks: t, workers: workers, err: err}
	}
}

func fetchAlerts(gen int, src Source) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		a, err := src.Alerts(ctx)
		return alertsMsg{gen: gen, alerts: a, err: err}
	}
}

func fetchAdmin(gen int, src Source) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		q, err := src.AdminUsage(ctx)
		return adminMsg{gen: gen, quotas: q, err: err}
	}
}

func openWorkspace(gen int, src Source, id string) tea.Cmd {
	return func() tea.Msg {
		s, err := src.Workspace(id)
		return sourceMsg{gen: gen, src: s, err: err}
	}
}

// cancelledMsg is the answer to a cancel from a task pane.
type cancelledMsg struct {
	gen  int
	id   string
	task api.Task
	err  error
}

func cancelTask(gen int, src Source, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		t, err := src.CancelTask(ctx, id)
		return cancelledMsg{gen: gen, id: id, task: t, err: err}
	}
}

// detailMsg is the answer to opening a task.
type detailMsg struct {
	gen    int
	task   api.Task
	events []api.TaskEvent
	err    error
}

func fetchDetail(gen int, src Source, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		t, evs, err := src.TaskDetail(ctx, id)
		return detailMsg{gen: gen, task: t, events: evs, err: err}
	}
}

// usageMsg is the answer to reading the day's usage.
type usageMsg struct {
	gen   int
	usage api.UsageSeries
	err   error
}

func fetchUsage(gen int, src Source) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		u, err := src.UsageToday(ctx)
		return usageMsg{gen: gen, usage: u, err: err}
	}
}

// Messages of the log pane. They carry the pane's own generation (logGen):
// closing the pane or opening another task's logs drops what is in flight.
type (
	logStartedMsg struct {
		gen    int
		ch     <-chan LogUpdate
		cancel context.CancelFunc
	}
	logMsg struct {
		gen    int
		u      LogUpdate
		closed bool
	}
)

// startLogs follows task id's events in a context of its own.
func startLogs(gen int, src Source, id string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithCancel(context.Background())
		return logStartedMsg{gen: gen, ch: src.FollowLogs(ctx, id), cancel: cancel}
	}
}

// nextLog waits for the next message of ch.
func nextLog(gen int, ch <-chan LogUpdate) tea.Cmd {
	return func() tea.Msg {
		u, ok := <-ch
		return logMsg{gen: gen, u: u, closed: !ok}
	}
}
