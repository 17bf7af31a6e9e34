package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2026, 11, 28, 22, 0, 0, 0, time.UTC)

// asciiRenderer renders no escape codes, so goldens are plain text.
func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

// gauge builds a metric with its percent.
func gauge(name string, used, limit int64) api.QuotaMetric {
	m := api.QuotaMetric{Name: name, Used: used, Limit: limit, Remaining: max(limit-used, 0)}
	if limit == 0 {
		m.Percent = 100
	} else {
		m.Percent = float64(used) * 100 / float64(limit)
	}
	m.Enforced = name == api.QuotaTaskExecutions || name == api.QuotaExecutionSeconds || name == api.QuotaSpend
	return m
}

// quotaAt is a pro-tier workspace's snapshot at t whose monthly gauges
// stand at pct percent.
func quotaAt(t time.Time, pct float64) api.Quota {
	execs := int64(pct * 50_000 / 100)
	secs := int64(pct * 180_000 / 100 * 0.9)
	spend := int64(pct * 200_000_000 / 100 * 0.8)
	q := api.Quota{
		WorkspaceID: "ws_01jdq7k3x9m2v5n8p4r6t0w2y4", WorkspaceName: "acme", Tier: "pro", Status: "active",
		Period: "2026-11", PeriodStart: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		PeriodEnd: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Metrics: []api.QuotaMetric{
			gauge(api.QuotaTaskExecutions, execs, 50_000),
			gauge(api.QuotaExecutionSeconds, secs, 180_000),
			gauge(api.QuotaSpend, spend, 200_000_000),
			gauge(api.QuotaAPIRate, 42, 600),
			gauge(api.QuotaConcurrency, 3, 10),
			gauge(api.QuotaQueued, 12, 10_000),
		},
		Running: 3, Queued: 12, At: t,
	}
	q.ResetsIn = int64(q.PeriodEnd.Sub(t) / time.Second)
	return q
}

func ptr[T any](v T) *T { return &v }

// someTasks are two running, one queued, one held and three finished tasks.
func someTasks() []api.Task {
	task := func(i int, queue, status string, startAgo, ran time.Duration, cost int64) api.Task {
		t := api.Task{ID: fmt.Sprintf("task_01jdq8a0b1c2d3e4f5g6h7j8k%d", i), Queue: queue, Status: status,
			CreatedAt: t0.Add(-startAgo - time.Second), StartedAt: ptr(t0.Add(-startAgo)), Usage: api.TaskUsage{CostMicros: cost},
			Attempt: 1, MaxAttempts: 3}
		if ran > 0 {
			t.FinishedAt = ptr(t0.Add(-startAgo + ran))
		}
		return t
	}
	return []api.Task{
		task(1, "email", api.TaskRunning, 95*time.Second, 0, 1200),
		task(2, "research", api.TaskRunning, 12*time.Second, 0, 0),
		{ID: "task_01jdq8a0b1c2d3e4f5g6h7j8k6", Queue: "email", Status: api.TaskQueued, MaxAttempts: 3, CreatedAt: t0.Add(-30 * time.Second)},
		{ID: "task_01jdq8a0b1c2d3e4f5g6h7j8k7", Queue: "research", Status: api.TaskQueued, StatusReason: "held: monthly spend cap used up",
			Attempt: 1, MaxAttempts: 3, CreatedAt: t0.Add(-4 * time.Minute)},
		task(3, "email", api.TaskSucceeded, 5*time.Minute, 42*time.Second, 3100),
		task(4, "research", api.TaskFailed, 9*time.Minute, 3*time.Minute, 250_000),
		task(5, "email", api.TaskTerminated, 20*time.Minute, 11*time.Minute, 1_234_567),
		{ID: "task_01jdq8a0b1c2d3e4f5g6h7j8m1", Queue: "research", Status: api.TaskWaiting, StatusReason: "signal approval",
			Attempt: 1, MaxAttempts: 3, CreatedAt: t0.Add(-25 * time.Minute), Labels: map[string]string{"customer": "globex"}},
		{ID: "task_01jdq8a0b1c2d3e4f5g6h7j8m2", Queue: "email", Status: api.TaskWaiting, StatusReason: "budget",
			Attempt: 2, MaxAttempts: 3, CreatedAt: t0.Add(-3 * time.Hour)},
	}
}

// someUsage is the day's usage by hour up to t0 (22:00): a quiet night,
// a busy afternoon.
func someUsage() api.UsageSeries {
	day := t0.Truncate(24 * time.Hour)
	u := api.UsageSeries{From: day, To: day.Add(24 * time.Hour), Granularity: api.GranularityHour, Series: map[string][]api.UsagePoint{}}
	perHour := []int64{2, 1, 0, 0, 0, 1, 3, 8, 20, 35, 40, 38, 30, 42, 55, 60, 48, 36, 22, 15, 12, 9}
	for h, n := range perHour {
		at := day.Add(time.Duration(h) * time.Hour)
		u.Series[api.MetricTaskExecutions] = append(u.Series[api.MetricTaskExecutions], api.UsagePoint{Start: at, Value: n})
		u.Series[api.MetricCostMicros] = append(u.Series[api.MetricCostMicros], api.UsagePoint{Start: at, Value: n * 4_000})
		u.Series[api.MetricExecutionMS] = append(u.Series[api.MetricExecutionMS], api.UsagePoint{Start: at, Value: n * 31_000})
		u.Series[api.MetricAPICalls] = append(u.Series[api.MetricAPICalls], api.UsagePoint{Start: at, Value: n * 12})
	}
	return u
}

func someAlerts() []api.Alert {
	return []api.Alert{
		{ID: "alert_1", Kind: api.AlertThreshold, Metric: api.QuotaTaskExecutions, Threshold: 80, Period: "2026-11",
			Message: "executions crossed 80% of the monthly quota (40,000/50,000)", CreatedAt: t0.Add(-2 * time.Hour)},
		{ID: "alert_2", Kind: api.AlertAnomaly, Metric: api.MetricCostMicros, Period: "2026-11-28T21:00:00Z",
			Message: "spend spiked to 6.1x the trailing hourly baseline", CreatedAt: t0.Add(-40 * time.Minute)},
	}
}

// fakeSource is a Source fed by the test.
type fakeSource struct {
	mu      sync.Mutex
	updates chan client.QuotaUpdate
	tasks   []api.Task
	alerts  []api.Alert
	spaces  []api.Quota
	watches int
	stopped int // watches whose context ended
	opened  []string
	// cancelled are the tasks CancelTask was asked to cancel.
	cancelled []string
	// logs feeds FollowLogs; follows are the tasks it was asked for and
	// logsStopped how many of those follows ended with their context.
	logs        chan LogUpdate
	follows     []string
	logsStopped int
	// workers answers TaskWorkers, by task id.
	workers map[string]string
}

func newFakeSource() *fakeSource {
	return &fakeSource{updates: make(chan client.QuotaUpdate, 16), tasks: someTasks(), alerts: someAlerts(),
		logs: make(chan LogUpdate, 16), workers: someWorkers()}
}

// someWorkers hold the running tasks of someTasks: one with a long name
// (a host name, a pid, a random suffix), one short.
func someWorkers() map[string]string {
	return map[string]string{
		"task_01jdq8a0b1c2d3e4f5g6h7j8k1": "w-build-01.eu-west-1.internal-4242-9f3a2c1b",
		"task_01jdq8a0b1c2d3e4f5g6h7j8k2": "laptop-77-0c0ffee0",
	}
}

func (f *fakeSource) UsageToday(context.Context) (api.UsageSeries, error) { return someUsage(), nil }

func (f *fakeSource) FollowLogs(ctx context.Context, id string) <-chan LogUpdate {
	f.mu.Lock()
	f.follows = append(f.follows, id)
	f.mu.Unlock()
	out := make(chan LogUpdate)
	go func() {
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				f.mu.Lock()
				f.logsStopped++
				f.mu.Unlock()
				return
			case u := <-f.logs:
				select {
				case out <- u:
				case <-ctx.Done():
					f.mu.Lock()
					f.logsStopped++
					f.mu.Unlock()
					return
				}
			}
		}
	}()
	return out
}

// followCounts returns the tasks followed and how many follows stopped.
func (f *fakeSource) followCounts() ([]string, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.follows), f.logsStopped
}

func (f *fakeSource) Watch(ctx context.Context) <-chan client.QuotaUpdate {
	f.mu.Lock()
	f.watches++
	f.mu.Unlock()
	out := make(chan client.QuotaUpdate)
	go func() {
		defer close(out)
		defer func() {
			f.mu.Lock()
			f.stopped++
			f.mu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case u := <-f.updates:
				select {
				case out <- u:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// counts returns how many watches were started and how many stopped.
func (f *fakeSource) counts() (watches, stopped int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watches, f.stopped
}

func (f *fakeSource) Tasks(context.Context) ([]api.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tasks), nil
}

func (f *fakeSource) TaskDetail(_ context.Context, id string) (api.Task, []api.TaskEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tasks {
		if t.ID == id {
			t.Attempts = []api.Attempt{{Number: 1, WorkerID: "w-1", Status: t.Status, StartedAt: t0.Add(-time.Minute)}}
			return t, []api.TaskEvent{
				{Seq: 1, Type: api.EventState, Status: api.TaskQueued, At: t0.Add(-2 * time.Minute)},
				{Seq: 2, Type: api.EventState, Status: api.TaskRunning, Attempt: 1, At: t0.Add(-time.Minute)},
				{Seq: 3, Type: api.EventLog, Attempt: 1, Message: "reading the report", At: t0.Add(-30 * time.Second)},
			}, nil
		}
	}
	return api.Task{}, nil, errors.New("not_found: no task " + id)
}

func (f *fakeSource) CancelTask(_ context.Context, id string) (api.Task, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, id)
	for i, t := range f.tasks {
		if t.ID == id {
			f.tasks[i].Status = api.TaskCancelled
			return f.tasks[i], nil
		}
	}
	return api.Task{}, errors.New("not_found: no task " + id)
}
func (f *fakeSource) TaskWorkers(_ context.Context, tasks []api.Task) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]string{}
	for _, t := range tasks {
		if w, ok := f.workers[t.ID]; ok && t.Status == api.TaskRunning {
			out[t.ID] = w
		}
	}
	return out
}

func (f *fakeSource) Alerts(context.Context) ([]api.Alert, error)     { return f.alerts, nil }
func (f *fakeSource) AdminUsage(context.Context) ([]api.Quota, error) { return f.spaces, nil }
func (f *fakeSource) Workspace(id string) (Source, error) {
	f.mu.Lock()
	f.opened = append(f.opened, id)
	f.mu.Unlock()
	return f, nil
}
