package metering

import (
	"fmt"
	"math"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// AnomalyConfig tunes Detect. A zero field takes its default.
//
// A window (the last 60 minutes) is anomalous when all of these hold:
//   - the baseline has at least MinHistory hours with usage (a workspace
//     that is new or was idle has no baseline to spike against);
//   - window >= MinVolume (small absolute numbers are never a spike);
//   - window > Baseline + Band, where Baseline is the EWMA of the hourly
//     values and Band is K × max(σ, 10 % of Baseline, 1), σ their
//     exponentially weighted standard deviation (the floor keeps a
//     perfectly steady baseline from making every wobble an anomaly);
//   - window >= MinRatio × Baseline (a spike is a multiple, not a wobble);
//   - window >= PeakRatio × the busiest hour of the baseline (traffic that
//     returns to yesterday's peak, e.g. every morning, is no spike).
type AnomalyConfig struct {
	Alpha         float64 // EWMA weight of each newer hour, in (0, 1]; default 0.3
	K             float64 // band width in standard deviations; default 3
	MinVolume     float64 // the window must have at least this much; default 100
	MinRatio      float64 // the window must be at least this many times Baseline; default 3
	PeakRatio     float64 // the window must be at least this many times the busiest baseline hour; default 2
	BaselineHours int     // trailing hours the baseline covers; default 24
	MinHistory    int     // hours with usage the baseline needs; default 3
}

// Defaults of AnomalyConfig.
const (
	DefaultAnomalyAlpha         = 0.3
	DefaultAnomalyK             = 3
	DefaultAnomalyMinVolume     = 100
	DefaultAnomalyMinRatio      = 3
	DefaultAnomalyPeakRatio     = 2
	DefaultAnomalyBaselineHours = 24
	DefaultAnomalyMinHistory    = 3
)

// anomalyMinVolume is the default MinVolume per usage metric: an hour below
// it is never an anomaly, whatever the baseline.
var anomalyMinVolume = map[string]float64{
	api.MetricAPICalls:       100,
	api.MetricTaskExecutions: 20,
	api.MetricExecutionMS:    10 * 60 * 1000, // 10 minutes of execution
	api.MetricTokens:         100_000,
	api.MetricCostMicros:     1_000_000, // one dollar
}

// AnomalyConfigFor returns the default configuration for a usage metric
// (an api.Metric* name), its MinVolume scaled to the metric's unit.
func AnomalyConfigFor(metric string) AnomalyConfig {
	c := AnomalyConfig{}.withDefaults()
	if v, ok := anomalyMinVolume[metric]; ok {
		c.MinVolume = v
	}
	return c
}

// withDefaults returns c with every zero, negative or out-of-range field
// set to its default.
func (c AnomalyConfig) withDefaults() AnomalyConfig {
	if !(c.Alpha > 0 && c.Alpha <= 1) {
		c.Alpha = DefaultAnomalyAlpha
	}
	def := func(v *float64, d float64) {
		if !(*v > 0) || math.IsInf(*v, 0) { // NaN too
			*v = d
		}
	}
	def(&c.K, DefaultAnomalyK)
	def(&c.MinVolume, DefaultAnomalyMinVolume)
	def(&c.MinRatio, DefaultAnomalyMinRatio)
	def(&c.PeakRatio, DefaultAnomalyPeakRatio)
	if c.BaselineHours <= 0 {
		c.BaselineHours = DefaultAnomalyBaselineHours
	}
	if c.MinHistory <= 0 {
		c.MinHistory = DefaultAnomalyMinHistory
	}
	return c
}

// AnomalyResult is what Detect found. Every number is finite, but
// Threshold may be +Inf.
type AnomalyResult struct {
	Anomalous bool
	Baseline  float64 // EWMA of the baseline hours, per hour
	Band      float64 // K × max(σ, 10 % of Baseline, 1)
	Peak      float64 // the busiest baseline hour
	Window    float64 // the window, as given (0 if not finite or negative)
	// Threshold is the smallest window that would have been anomalous
	// against this baseline (+Inf with too little history).
	Threshold float64
	History   int // baseline hours with usage
}

// Detect judges window, the usage of the last 60 minutes, against hourly,
// the complete hours before it, oldest first (the last BaselineHours of
// them are used; hours without usage must be present as 0). Negative and
// non-finite values count as 0. See AnomalyConfig for the rule.
func Detect(cfg AnomalyConfig, hourly []float64, window float64) AnomalyResult {
	cfg = cfg.withDefaults()
	if len(hourly) > cfg.BaselineHours {
		hourly = hourly[len(hourly)-cfg.BaselineHours:]
	}
	r := AnomalyResult{Window: clean(window), Threshold: math.Inf(1)}
	var variance float64
	for i, v := range hourly {
		v = clean(v)
		if v > 0 {
			r.History++
		}
		r.Peak = max(r.Peak, v)
		if i == 0 {
			r.Baseline = v
			continue
		}
		// West's incremental EWMA of mean and variance.
		diff := v - r.Baseline
		inc := cfg.Alpha * diff
		r.Baseline += inc
		variance = (1 - cfg.Alpha) * (variance + diff*inc)
	}
	r.Band = cfg.K * max(math.Sqrt(max(variance, 0)), 0.1*r.Baseline, 1)
	if r.History < cfg.MinHistory {
		return r
	}
	// The smallest window passing every test: the band is strict (>), the
	// others are inclusive (>=).
	r.Threshold = max(math.Nextafter(r.Baseline+r.Band, math.Inf(1)),
		cfg.MinVolume, cfg.MinRatio*r.Baseline, cfg.PeakRatio*r.Peak)
	r.Anomalous = r.Window >= r.Threshold
	return r
}

// clean maps negative and non-finite values to 0.
func clean(v float64) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// AnomalySeriesRange is the range of hourly buckets to read (with
// store.UsageSeries at store.GranularityHour) for AnomalyInput at now with
// baselineHours (≤ 0: the default): from the first baseline hour to the end
// of the current hour.
func AnomalySeriesRange(now time.Time, baselineHours int) (from, to time.Time) {
	if baselineHours <= 0 {
		baselineHours = DefaultAnomalyBaselineHours
	}
	cur := store.UsageHour(now)
	return cur.Add(-time.Duration(baselineHours+1) * time.Hour), cur.Add(time.Hour)
}

// AnomalyInput turns hourly rollup buckets into Detect's arguments for
// metric at now. The window estimates the last 60 minutes by sliding over
// two buckets: the current (partial) hour plus the previous hour weighted
// by the part of it still inside the window,
//
//	window = current + previous × (1 − elapsed fraction of the current hour)
//
// which assumes usage was even within the previous hour. The baseline is
// the baselineHours (≤ 0: the default) complete hours before the previous
// hour, oldest first, 0 where there is no bucket, so the spike being
// measured never inflates its own baseline. Points of other metrics or
// outside that range are ignored.
func AnomalyInput(points []store.UsagePoint, metric string, now time.Time, baselineHours int) (hourly []float64, window float64) {
	if baselineHours <= 0 {
		baselineHours = DefaultAnomalyBaselineHours
	}
	cur := store.UsageHour(now)
	prev := cur.Add(-time.Hour)
	first := prev.Add(-time.Duration(baselineHours) * time.Hour)
	hourly = make([]float64, baselineHours)
	var curV, prevV float64
	for _, p := range points {
		if p.Metric != metric {
			continue
		}
		start := p.Start.UTC()
		switch {
		case start.Equal(cur):
			curV += float64(p.Value)
		case start.Equal(prev):
			prevV += float64(p.Value)
		case !start.Before(first) && start.Before(prev):
			hourly[int(start.Sub(first)/time.Hour)] += float64(p.Value)
		}
	}
	elapsed := float64(now.Sub(cur)) / float64(time.Hour)
	return hourly, clean(curV + prevV*(1-elapsed))
}

// NewAnomalyAlert makes the anomaly alert of r for metric of workspaceID,
// raised at now: its period is the hour holding now (RFC 3339, UTC), so
// store.AlertStore.RaiseAlert keeps one per metric per hour.
func NewAnomalyAlert(workspaceID, metric string, r AnomalyResult, now time.Time) store.Alert {
	return store.Alert{
		ID:          ids.NewAt(ids.Alert, now),
		WorkspaceID: workspaceID,
		Kind:        api.AlertAnomaly,
		Metric:      metric,
		Period:      store.UsageHour(now).Format(time.RFC3339),
		Value:       r.Window,
		Limit:       r.Baseline,
		Message: fmt.Sprintf("%s spiked: %.0f in the last hour against a baseline of %.0f per hour (%.1f×)",
			metric, r.Window, r.Baseline, r.Window/max(r.Baseline, 1)),
		CreatedAt: now.UTC(),
	}
}
