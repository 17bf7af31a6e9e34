package api

import "time"

// Usage metrics: what GET /v1/usage reports, per bucket.
const (
	MetricAPICalls       = "api_calls"
	MetricTaskExecutions = "task_executions"
	MetricExecutionMS    = "execution_ms"
	MetricTokens         = "tokens"
	MetricCostMicros     = "cost_micros"
	// MetricRetryWasteTokens and MetricRetryWasteCostMicros tag part of
	// tokens and cost_micros (already counted there, not on top): what
	// a durable step spent in an attempt that died inside it, before it
	// ran again (docs/steps.md). Quotas and prices never read them.
	MetricRetryWasteTokens     = "retry_waste_tokens"
	MetricRetryWasteCostMicros = "retry_waste_cost_micros"
)

// UsageMetrics lists every usage metric in a stable order.
var UsageMetrics = []string{MetricAPICalls, MetricTaskExecutions, MetricExecutionMS, MetricTokens, MetricCostMicros,
	MetricRetryWasteTokens, MetricRetryWasteCostMicros}

// Granularities of GET /v1/usage.
const (
	GranularityHour = "hour"
	GranularityDay  = "day"
)

// UsagePoint is one bucket of a usage series.
type UsagePoint struct {
	Start time.Time `json:"start"` // bucket start, UTC
	Value int64     `json:"value"`
}

// UsageSeries is GET /v1/usage: a workspace's usage in [From, To) per
// metric and bucket, and the totals over the range. Empty buckets are
// absent from a series; every metric has a series (maybe empty) and a total.
type UsageSeries struct {
	WorkspaceID string                  `json:"workspace_id"`
	From        time.Time               `json:"from"`
	To          time.Time               `json:"to"`
	Granularity string                  `json:"granularity"`
	Series      map[string][]UsagePoint `json:"series"`
	Totals      map[string]int64        `json:"totals"`
}

// Quota gauges: the names of QuotaMetric.
const (
	QuotaTaskExecutions   = "task_executions"   // attempts started this period
	QuotaExecutionSeconds = "execution_seconds" // server-accrued execution time this period
	QuotaSpend            = "spend_micros"      // agent-reported cost_usd this period, micro-dollars
	QuotaAPIRate          = "api_rate"          // requests in the last minute against requests_per_minute
	QuotaConcurrency      = "concurrent_tasks"  // tasks running now against max_concurrent_tasks
	QuotaQueued           = "queued_tasks"      // tasks queued now against max_queued_tasks
)

// QuotaMetrics lists the gauges of a Quota in display order.
var QuotaMetrics = []string{QuotaTaskExecutions, QuotaExecutionSeconds, QuotaSpend, QuotaAPIRate, QuotaConcurrency, QuotaQueued}

// QuotaMetric is one limit and its use. Limit 0 means nothing is allowed
// (the quota is used up), except for api_rate, where 0 means unlimited
// (then Unlimited is true and Percent 0).
type QuotaMetric struct {
	Name      string  `json:"name"`
	Used      int64   `json:"used"`
	Limit     int64   `json:"limit"`
	Remaining int64   `json:"remaining"` // max(Limit-Used, 0)
	Percent   float64 `json:"percent"`   // Used/Limit×100, may pass 100 (overshoot); 100 when Limit is 0
	Unlimited bool    `json:"unlimited,omitempty"`
	// Enforced is true for the limits whose exhaustion holds queued tasks
	// and stops running ones (executions, execution seconds, spend).
	Enforced bool `json:"enforced,omitempty"`
}

// Quota is GET /v1/usage/quota and each snapshot of GET
// /v1/usage/stream: a workspace's use of its limits in the current billing
// period (calendar month, UTC).
type Quota struct {
	WorkspaceID   string        `json:"workspace_id"`
	WorkspaceName string        `json:"workspace_name"`
	Tier          string        `json:"tier"`
	Status        string        `json:"status"` // the workspace's: active or suspended
	Period        string        `json:"period"` // YYYY-MM
	PeriodStart   time.Time     `json:"period_start"`
	PeriodEnd     time.Time     `json:"period_end"`
	ResetsIn      int64         `json:"resets_in_seconds"`
	Metrics       []QuotaMetric `json:"metrics"`
	APICalls      int64         `json:"api_calls"` // this period (not limited)
	Tokens        int64         `json:"tokens"`    // this period (not limited)
	Running       int64         `json:"running"`
	Queued        int64         `json:"queued"`
	// Held counts queued tasks that cannot start now because a monthly
	// quota or the spend cap is used up (they run when it resets or is
	// raised) or the workspace is suspended.
	Held int64 `json:"held"`
	// Exceeded names the enforced quotas used up now (empty when none).
	Exceeded []string  `json:"exceeded"`
	At       time.Time `json:"at"` // when the snapshot was taken (server clock)
}

// Metric returns the gauge named name, or false.
func (q Quota) Metric(name string) (QuotaMetric, bool) {
	for _, m := range q.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return QuotaMetric{}, false
}

// MaxPercent is the highest Percent of any limited gauge: how close the
// workspace is to a limit.
func (q Quota) MaxPercent() float64 {
	var p float64
	for _, m := range q.Metrics {
		if !m.Unlimited && m.Percent > p {
			p = m.Percent
		}
	}
	return p
}

// Alert kinds and states.
const (
	AlertThreshold = "threshold" // a quota crossed 80 % or 100 %
	AlertAnomaly   = "anomaly"   // a usage spike against the trailing baseline
	// AlertMetricTaskBudget is the metric of a threshold alert raised when
	// a task's cost, its children's included, crosses 80 % or 100 % of its
	// max_cost_micros: once per threshold per task; its period is the
	// task's id.
	AlertMetricTaskBudget = "task_budget"
)

// Alert is a threshold crossing or a usage anomaly of a workspace.
type Alert struct {
	ID          string  `json:"id"`
	WorkspaceID string  `json:"workspace_id"`
	Kind        string  `json:"kind"`   // AlertThreshold or AlertAnomaly
	Metric      string  `json:"metric"` // a Quota* name or AlertMetricTaskBudget (threshold) or a usage Metric* (anomaly)
	Threshold   int     `json:"threshold,omitempty"`
	Period      string  `json:"period"` // YYYY-MM (threshold), the task's id (task_budget) or the hour, RFC 3339 (anomaly)
	Value       float64 `json:"value"`  // used (threshold) or the last hour's rate (anomaly)
	// Limit is the quota (threshold) or the baseline rate per hour (anomaly).
	Limit     float64    `json:"limit"`
	Message   string     `json:"message"`
	CreatedAt time.Time  `json:"created_at"`
	AckedAt   *time.Time `json:"acked_at"`
}

// WorkspaceCost is one row of GET /v1/admin/costs. Money is in
// micro-dollars. Revenue is the tier's monthly price; Cost is compute
// (execution seconds and API calls at the configured rates) plus the spend
// agents reported; Margin = Revenue − Cost; MarginPercent is nil when
// Revenue is 0.
type WorkspaceCost struct {
	WorkspaceID       string   `json:"workspace_id"`
	WorkspaceName     string   `json:"workspace_name"`
	Tier              string   `json:"tier"`
	ExecutionMS       int64    `json:"execution_ms"`
	APICalls          int64    `json:"api_calls"`
	RevenueMicros     int64    `json:"revenue_micros"`
	ComputeCostMicros int64    `json:"compute_cost_micros"`
	AgentCostMicros   int64    `json:"agent_cost_micros"`
	CostMicros        int64    `json:"cost_micros"`
	MarginMicros      int64    `json:"margin_micros"`
	MarginPercent     *float64 `json:"margin_percent"`
	Negative          bool     `json:"negative"`
}

// CostReport is GET /v1/admin/costs: every workspace's revenue, cost and
// margin for a billing period, worst margin first.
type CostReport struct {
	Period string          `json:"period"` // YYYY-MM
	Data   []WorkspaceCost `json:"data"`
	Totals WorkspaceCost   `json:"totals"` // sums; WorkspaceID etc. empty
}
