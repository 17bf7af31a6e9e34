package metering

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Alert thresholds, in percent of a monthly quota.
var Thresholds = []int{80, 100}

// EvalStore is what the evaluator reads and writes.
type EvalStore interface {
	UsageSeries(ctx context.Context, workspaceID string, from, to time.Time, granularity string) ([]store.UsagePoint, error)
	RaiseAlert(ctx context.Context, a store.Alert) (bool, error)
}

// EvaluatorConfig tunes an Evaluator. Zero values take the defaults.
type EvaluatorConfig struct {
	Store EvalStore
	Now   func() time.Time
	Log   *slog.Logger
	// Anomaly gives the detector's settings per usage metric
	// (AnomalyConfigFor when nil).
	Anomaly func(metric string) AnomalyConfig
	// OnRaised is called for each alert this evaluator stored first (a
	// replica racing another raises each alert once): the server logs it,
	// counts it and hands it to the webhook notifier.
	OnRaised func(store.Alert)
}

// Evaluator raises a workspace's alerts: one per quota threshold (80 %,
// 100 %) per billing period, and one per usage anomaly per metric per
// hour. Alerts are deduplicated by the store, so evaluating often, or on
// several replicas, raises each alert once.
type Evaluator struct{ cfg EvaluatorConfig }

// NewEvaluator returns an Evaluator.
func NewEvaluator(cfg EvaluatorConfig) *Evaluator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Anomaly == nil {
		cfg.Anomaly = AnomalyConfigFor
	}
	return &Evaluator{cfg: cfg}
}

// quotaUse is one enforced quota's use, in the units of its gauge.
type quotaUse struct {
	name        string
	used, limit int64
	unit        func(int64) string
}

// Check evaluates ws, whose effective limits are l and whose usage in the
// current period is totals, and returns the alerts it raised.
func (e *Evaluator) Check(ctx context.Context, ws store.Workspace, l api.Limits, totals map[string]int64) ([]store.Alert, error) {
	now := e.cfg.Now().UTC()
	var raised []store.Alert
	raise := func(a store.Alert) error {
		ok, err := e.cfg.Store.RaiseAlert(ctx, a)
		if err != nil {
			return fmt.Errorf("raise %s alert of %s: %w", a.Kind, ws.ID, err)
		}
		if ok {
			raised = append(raised, a)
			if e.cfg.OnRaised != nil {
				e.cfg.OnRaised(a)
			}
		}
		return nil
	}
	used := ConsumedOf(totals)
	count := func(n int64) string { return fmt.Sprint(n) }
	for _, q := range []quotaUse{
		{api.QuotaTaskExecutions, used.Executions, l.MonthlyTaskExecutions, count},
		{api.QuotaExecutionSeconds, used.ExecutionMS / 1000, l.MonthlyExecutionSeconds, count},
		{api.QuotaSpend, used.CostMicros, l.MonthlySpendMicros, usd},
	} {
		if q.limit <= 0 {
			continue // nothing allowed: there is nothing to approach
		}
		pct := float64(q.used) / float64(q.limit) * 100
		for _, th := range Thresholds {
			if pct < float64(th) {
				break
			}
			a := store.Alert{ID: ids.NewAt(ids.Alert, now), WorkspaceID: ws.ID, Kind: api.AlertThreshold,
				Metric: q.name, Threshold: th, Period: store.UsagePeriod(now).Format("2006-01"),
				Value: float64(q.used), Limit: float64(q.limit), CreatedAt: now,
				Message: fmt.Sprintf("%s: %s at %.0f%% of its monthly quota (%s of %s)", ws.Name, q.name, pct, q.unit(q.used), q.unit(q.limit))}
			if err := raise(a); err != nil {
				return raised, err
			}
		}
	}

	cfg := e.cfg.Anomaly(api.MetricAPICalls)
	from, to := AnomalySeriesRange(now, cfg.BaselineHours)
	points, err := e.cfg.Store.UsageSeries(ctx, ws.ID, from, to, store.GranularityHour)
	if err != nil {
		return raised, fmt.Errorf("read usage of %s: %w", ws.ID, err)
	}
	for _, m := range api.UsageMetrics {
		cfg := e.cfg.Anomaly(m)
		hourly, window := AnomalyInput(points, m, now, cfg.BaselineHours)
		if r := Detect(cfg, hourly, window); r.Anomalous {
			a := NewAnomalyAlert(ws.ID, m, r, now)
			a.Message = ws.Name + ": " + a.Message
			if err := raise(a); err != nil {
				return raised, err
			}
		}
	}
	return raised, nil
}
