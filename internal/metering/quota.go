// Package metering turns usage into decisions: which quotas a workspace has
// used up, its quota snapshot, its cost and margin, and alerts (threshold
// crossings, usage anomalies, webhooks).
//
// Usage itself is recorded by the store, in the transactions of the task
// transitions that cause it (attempt start, execution accrued at heartbeat
// and completion, agent-reported tokens and cost), and by the Recorder for
// API calls; quotas read the monthly rollup, one indexed read.
package metering

import (
	"fmt"
	"math"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Exhausted returns the enforced quotas (api.QuotaTaskExecutions,
// api.QuotaExecutionSeconds, api.QuotaSpend, in that order) that used has
// used up under l. A limit of 0 allows nothing: it is used up at once.
func Exhausted(l api.Limits, used store.Consumed) []string {
	var out []string
	if used.Executions >= l.MonthlyTaskExecutions {
		out = append(out, api.QuotaTaskExecutions)
	}
	if used.ExecutionMS >= l.MonthlyExecutionSeconds*1000 {
		out = append(out, api.QuotaExecutionSeconds)
	}
	if used.CostMicros >= l.MonthlySpendMicros {
		out = append(out, api.QuotaSpend)
	}
	return out
}

// Admit decides whether a workspace under l, with queued tasks queued and
// used consumed this period, may queue one more task at now. It returns
// the quota that refuses it ("" admits) and, for a monthly quota, how long
// until it resets (0 for the queued-task cap: room comes when tasks
// start). Execution seconds do not refuse a submit: the task is held.
func Admit(l api.Limits, queued int, used store.Consumed, now time.Time) (quota string, retryAfter time.Duration) {
	for _, q := range Exhausted(l, used) {
		if q != api.QuotaExecutionSeconds {
			return q, UntilReset(now)
		}
	}
	if int64(queued) >= l.MaxQueuedTasks {
		return api.QuotaQueued, 0
	}
	return "", 0
}

// Slots is how many more tasks ws, under l, may start now with running
// tasks running and used consumed this period: none when it is suspended
// or a monthly quota is used up (its queued tasks are held, never
// dropped), else what its concurrency cap and its remaining task
// executions leave.
func Slots(ws store.Workspace, l api.Limits, running int, used store.Consumed) int {
	if ws.Status != api.WorkspaceActive || len(Exhausted(l, used)) > 0 {
		return 0
	}
	n := min(l.MaxConcurrentTasks-int64(running), l.MonthlyTaskExecutions-used.Executions)
	return int(max(min(n, math.MaxInt32), 0))
}

// Terminate returns the quota whose exhaustion stops a running task of a
// workspace under l that has used used ("" when none): execution seconds
// or spend.
func Terminate(l api.Limits, used store.Consumed) string {
	if ex := Running(Exhausted(l, used)); len(ex) > 0 {
		return ex[0]
	}
	return ""
}

// Running reports the quotas whose exhaustion stops a running task:
// execution seconds and spend (a task already started does not need
// another execution).
func Running(exhausted []string) []string {
	var out []string
	for _, q := range exhausted {
		if q != api.QuotaTaskExecutions {
			out = append(out, q)
		}
	}
	return out
}

// Describe says why quota q stops work, for problem details and task
// reasons: "monthly execution seconds used up (3600/3600)".
func Describe(q string, l api.Limits, used store.Consumed) string {
	switch q {
	case api.QuotaTaskExecutions:
		return fmt.Sprintf("monthly task executions used up (%d/%d)", used.Executions, l.MonthlyTaskExecutions)
	case api.QuotaExecutionSeconds:
		return fmt.Sprintf("monthly execution seconds used up (%d/%d)", used.ExecutionMS/1000, l.MonthlyExecutionSeconds)
	case api.QuotaSpend:
		return fmt.Sprintf("monthly spend cap used up (%s/%s)", usd(used.CostMicros), usd(l.MonthlySpendMicros))
	case api.QuotaQueued:
		return fmt.Sprintf("queued task cap reached (%d)", l.MaxQueuedTasks)
	}
	return q + " used up"
}

func usd(micros int64) string { return "$" + api.RoundUSD(micros, 2) }

// ConsumedOf picks the enforced metrics out of monthly rollup totals.
func ConsumedOf(totals map[string]int64) store.Consumed {
	return store.Consumed{
		Executions:  totals[store.MetricTaskExecutions],
		ExecutionMS: totals[store.MetricExecutionMS],
		CostMicros:  totals[store.MetricCostMicros],
	}
}

// PeriodEnd is the end (exclusive, UTC) of the billing period holding t:
// the start of the next calendar month.
func PeriodEnd(t time.Time) time.Time { return store.UsagePeriod(t).AddDate(0, 1, 0) }

// UntilReset is how long from now until the billing period holding now
// ends, rounded up to whole seconds (at least one).
func UntilReset(now time.Time) time.Duration {
	d := PeriodEnd(now).Sub(now)
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

// State is what a quota snapshot is made of.
type State struct {
	Workspace store.Workspace
	Limits    api.Limits
	Totals    map[string]int64 // the period's monthly rollup
	Running   int64
	Queued    int64
	// APIRate is the requests of the last minute, as the serving replica
	// saw them.
	APIRate int64
	Now     time.Time
}

// Snapshot builds the quota snapshot of s.
func Snapshot(s State) api.Quota {
	now := s.Now.UTC()
	used := ConsumedOf(s.Totals)
	exhausted := Exhausted(s.Limits, used)
	start := store.UsagePeriod(now)
	q := api.Quota{
		WorkspaceID:   s.Workspace.ID,
		WorkspaceName: s.Workspace.Name,
		Tier:          s.Workspace.Tier,
		Status:        s.Workspace.Status,
		Period:        start.Format("2006-01"),
		PeriodStart:   start,
		PeriodEnd:     PeriodEnd(now),
		ResetsIn:      int64(UntilReset(now) / time.Second),
		APICalls:      s.Totals[store.MetricAPICalls],
		Tokens:        s.Totals[store.MetricTokens],
		Running:       s.Running,
		Queued:        s.Queued,
		Exceeded:      []string{},
		At:            now,
		Metrics: []api.QuotaMetric{
			gauge(api.QuotaTaskExecutions, used.Executions, s.Limits.MonthlyTaskExecutions, true),
			gauge(api.QuotaExecutionSeconds, used.ExecutionMS/1000, s.Limits.MonthlyExecutionSeconds, true),
			gauge(api.QuotaSpend, used.CostMicros, s.Limits.MonthlySpendMicros, true),
			gauge(api.QuotaAPIRate, s.APIRate, s.Limits.RequestsPerMinute, false),
			gauge(api.QuotaConcurrency, s.Running, s.Limits.MaxConcurrentTasks, false),
			gauge(api.QuotaQueued, s.Queued, s.Limits.MaxQueuedTasks, false),
		},
	}
	if s.Limits.RequestsPerMinute == 0 { // 0 = no rate limit
		q.Metrics[3].Unlimited, q.Metrics[3].Percent, q.Metrics[3].Remaining = true, 0, 0
	}
	if len(exhausted) > 0 || s.Workspace.Status != api.WorkspaceActive {
		q.Held = s.Queued
	}
	q.Exceeded = append(q.Exceeded, exhausted...)
	return q
}

func gauge(name string, used, limit int64, enforced bool) api.QuotaMetric {
	m := api.QuotaMetric{Name: name, Used: used, Limit: limit, Remaining: max(limit-used, 0), Enforced: enforced, Percent: 100}
	if limit > 0 {
		m.Percent = math.Round(float64(used)/float64(limit)*1000) / 10
	}
	return m
}
