package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// Usage metrics: the API's names (pkg/api). Values are counts,
// milliseconds, tokens or micro-dollars.
const (
	MetricAPICalls       = api.MetricAPICalls
	MetricTaskExecutions = api.MetricTaskExecutions
	MetricExecutionMS    = api.MetricExecutionMS
	MetricTokens         = api.MetricTokens
	MetricCostMicros     = api.MetricCostMicros
)

// UsageMetrics lists every metric, in a fixed order.
var UsageMetrics = api.UsageMetrics

// Usage series granularities.
const (
	GranularityHour = api.GranularityHour
	GranularityDay  = api.GranularityDay
)

// ErrInvalidUsage: an event with an unknown metric, a negative value, or a
// missing id, workspace or time. Nothing of the call is recorded.
var ErrInvalidUsage = errors.New("invalid usage event")

// UsageEvent is one metered occurrence.
type UsageEvent struct {
	ID          string // dedup id, unique per workspace: a replay with the same id counts once
	WorkspaceID string
	Metric      string // one of the Metric* constants
	Value       int64  // >= 0
	At          time.Time
	TaskID      string // "" unless the event belongs to a task
}

// Validate returns an error wrapping ErrInvalidUsage if e cannot be recorded.
func (e UsageEvent) Validate() error {
	switch {
	case e.ID == "":
		return fmt.Errorf("%w: empty id", ErrInvalidUsage)
	case e.WorkspaceID == "":
		return fmt.Errorf("%w %s: empty workspace", ErrInvalidUsage, e.ID)
	case !IsUsageMetric(e.Metric):
		return fmt.Errorf("%w %s: unknown metric %q", ErrInvalidUsage, e.ID, e.Metric)
	case e.Value < 0:
		return fmt.Errorf("%w %s: negative value %d", ErrInvalidUsage, e.ID, e.Value)
	case e.At.IsZero():
		return fmt.Errorf("%w %s: zero time", ErrInvalidUsage, e.ID)
	}
	return nil
}

// IsUsageMetric reports whether m is one of the Metric* constants.
func IsUsageMetric(m string) bool {
	for _, k := range UsageMetrics {
		if m == k {
			return true
		}
	}
	return false
}

// UsageHour is the start (UTC) of the hourly bucket holding t.
func UsageHour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// UsagePeriod is the start (UTC) of the billing period, the calendar month,
// holding t.
func UsagePeriod(t time.Time) time.Time {
	u := t.UTC()
	return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// UsagePoint is one bucket of a usage series.
type UsagePoint struct {
	Start  time.Time // bucket start, UTC
	Metric string
	Value  int64
}

// UsageStore records usage events and reads their rollups.
//
// Every event is kept once per (workspace, id), and adds its value to two
// rollups in the transaction that records it: the hour (UTC) and the billing
// period (calendar month UTC) holding its time. Reads only touch rollups.
type UsageStore interface {
	// RecordUsage inserts events in one transaction, ignoring those whose
	// (workspace, id) is already recorded (a replay or retry never counts
	// twice), and adds each newly inserted event's value to its hourly and
	// monthly rollups. It returns how many events were new. Events may span
	// workspaces. ErrInvalidUsage if any event is invalid, ErrNotFound if a
	// workspace does not exist; either way nothing is recorded.
	RecordUsage(ctx context.Context, events ...UsageEvent) (recorded int, err error)
	// UsageTotals returns workspaceID's totals per metric for the billing
	// period holding period (metrics with no usage are absent; never nil).
	// One indexed read of the monthly rollup.
	UsageTotals(ctx context.Context, workspaceID string, period time.Time) (map[string]int64, error)
	// UsageSeries returns workspaceID's usage per bucket of granularity
	// (GranularityHour or GranularityDay, UTC) for the buckets that start
	// in [from truncated to the bucket, to), read from the hourly rollup and
	// ordered by Start then Metric. Empty buckets are absent; never nil.
	UsageSeries(ctx context.Context, workspaceID string, from, to time.Time, granularity string) ([]UsagePoint, error)
	// AllUsageTotals returns every workspace's totals for the billing period
	// holding period, keyed by workspace id then metric (never nil). It is
	// the operator's view and reads across tenants by design: never serve it
	// to a workspace key.
	AllUsageTotals(ctx context.Context, period time.Time) (map[string]map[string]int64, error)
}
