package metering

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// traffic simulates hours of usage: a mean per hour (which may follow the
// time of day) with Poisson-like noise (normal, σ = √mean) and, now and
// then, a burst of up to +50 %. Seeded, so deterministic.
func traffic(seed uint64, hours int, mean func(h int) float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, hours)
	for h := range out {
		m := mean(h)
		v := m + r.NormFloat64()*math.Sqrt(m)
		if r.IntN(20) == 0 {
			v *= 1 + r.Float64()/2
		}
		out[h] = math.Round(max(v, 0))
	}
	return out
}

func steady(m float64) func(int) float64 { return func(int) float64 { return m } }

// diurnal peaks at 14:00 and bottoms out at 02:00.
func diurnal(lo, hi float64) func(int) float64 {
	return func(h int) float64 {
		return lo + (hi-lo)*(1+math.Cos(2*math.Pi*float64(h%24-14)/24))/2
	}
}

// TestDetectNoFalseAlarms slides over weeks of ordinary traffic, complete
// hours and sliding windows alike: nothing is anomalous, while a 20× spike
// on steady traffic above MinVolume is, at every hour.
func TestDetectNoFalseAlarms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		mean  func(int) float64
		spike bool // whether 20× the mean must be anomalous (not checked if false)
	}{
		{"steady 500/h", steady(500), true},
		{"steady 120/h", steady(120), true},
		{"steady 5000/h", steady(5000), true},
		{"diurnal 20-400/h", diurnal(20, 400), false},
		{"diurnal 0-300/h", diurnal(0, 300), false},
		{"sparse 4/h", steady(4), false}, // 20× is under MinVolume
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const weeks = 4
			for seed := range uint64(5) {
				hours := traffic(seed, weeks*7*24, tc.mean)
				cfg := AnomalyConfigFor(api.MetricAPICalls)
				for h := cfg.BaselineHours + 1; h < len(hours); h++ {
					for _, elapsed := range []float64{0, 0.25, 0.5, 0.9} {
						// the sliding estimate over the previous and the current hour
						window := hours[h]*elapsed + hours[h-1]*(1-elapsed)
						if r := Detect(cfg, hours[:h-1], window); r.Anomalous {
							t.Fatalf("seed %d hour %d (+%.2f): %.0f against %v: false alarm %+v",
								seed, h, elapsed, window, hours[h-1-cfg.BaselineHours:h-1], r)
						}
					}
					if r := Detect(cfg, hours[:h-1], 20*tc.mean(h)); tc.spike && !r.Anomalous {
						t.Fatalf("seed %d hour %d: 20× spike missed: %+v", seed, h, r)
					}
				}
			}
		})
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	noisy := traffic(42, 24, steady(100))
	flat := slices.Repeat([]float64{100}, 24)
	low := traffic(7, 24, steady(3))
	short := append(make([]float64, 22), 100, 100) // two hours with usage
	peaked := append([]float64{900}, slices.Repeat([]float64{20}, 23)...)
	cfg := AnomalyConfig{} // defaults: MinVolume 100

	for _, tc := range []struct {
		name   string
		cfg    AnomalyConfig
		hourly []float64
		window float64
		want   bool
	}{
		{"20× spike", cfg, noisy, 2000, true},
		{"10× spike", cfg, noisy, 1000, true},
		{"2× is no spike", cfg, noisy, 200, false},
		{"just under 3×", cfg, noisy, 290, false},
		{"usual hour", cfg, noisy, 104, false},
		{"drop", cfg, noisy, 0, false},
		{"20× spike below MinVolume", cfg, low, 60, false},
		{"20× spike, MinVolume lowered", AnomalyConfig{MinVolume: 50}, low, 60, true},
		{"flat baseline: 1.5× is inside the band floor and ratio", cfg, flat, 150, false},
		{"flat baseline: 4×", cfg, flat, 400, true},
		{"no history", cfg, nil, 1e6, false},
		{"all-zero history", cfg, make([]float64, 24), 1e6, false},
		{"two hours of history", cfg, short, 1e6, false},
		{"two hours of history, MinHistory 2", AnomalyConfig{MinHistory: 2}, short, 1e6, true},
		{"three hours of history", cfg, append(make([]float64, 21), 10, 10, 10), 1000, true},
		{"back to yesterday's peak", cfg, peaked, 1000, false},
		{"under twice yesterday's peak", cfg, peaked, 1790, false},
		{"twice yesterday's peak", cfg, peaked, 1800, true},
		{"NaN and negative hours count as 0", cfg, append([]float64{math.NaN(), -5, math.Inf(1), math.Inf(-1)}, flat[:20]...), 400, true},
		{"NaN window", cfg, noisy, math.NaN(), false},
		{"infinite window", cfg, noisy, math.Inf(1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Detect(tc.cfg, tc.hourly, tc.window)
			if r.Anomalous != tc.want {
				t.Fatalf("Detect(%.0f) = %+v, want anomalous %v", tc.window, r, tc.want)
			}
			for name, v := range map[string]float64{"Baseline": r.Baseline, "Band": r.Band, "Peak": r.Peak, "Window": r.Window} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Errorf("%s = %v, want finite and not negative", name, v)
				}
			}
			if math.IsNaN(r.Threshold) {
				t.Error("Threshold is NaN")
			}
			if r.Anomalous != (r.Window >= r.Threshold) {
				t.Errorf("Anomalous %v but window %v, threshold %v", r.Anomalous, r.Window, r.Threshold)
			}
		})
	}
}

func TestDetectBaseline(t *testing.T) {
	t.Parallel()
	// A flat baseline has no variance: the band is its floor, 10 % of the mean.
	r := Detect(AnomalyConfig{}, slices.Repeat([]float64{100}, 24), 0)
	if r.Baseline != 100 || r.Band != 30 || r.Peak != 100 || r.History != 24 {
		t.Errorf("flat 100/h: %+v, want baseline 100, band 3×10, peak 100, history 24", r)
	}
	// Only the last BaselineHours count: the old surge is forgotten.
	hourly := append(slices.Repeat([]float64{10_000}, 48), slices.Repeat([]float64{100}, 24)...)
	if r := Detect(AnomalyConfig{}, hourly, 0); r.Baseline != 100 || r.Peak != 100 {
		t.Errorf("old surge leaks into the baseline: %+v", r)
	}
	// The EWMA follows the newest hours most.
	r = Detect(AnomalyConfig{Alpha: 0.5}, []float64{0, 0, 0, 100}, 0)
	if r.Baseline != 50 {
		t.Errorf("EWMA(α=.5) of 0,0,0,100 = %v, want 50", r.Baseline)
	}
	// A noisy baseline widens the band beyond its floor.
	if r := Detect(AnomalyConfig{}, []float64{100, 300, 100, 300, 100, 300}, 0); r.Band <= 3*0.1*r.Baseline {
		t.Errorf("noisy baseline: band %v not wider than the floor", r.Band)
	}
}

func TestAnomalyConfigFor(t *testing.T) {
	t.Parallel()
	if c := AnomalyConfigFor(api.MetricAPICalls); c.MinVolume != 100 || c.Alpha != 0.3 || c.K != 3 ||
		c.MinRatio != 3 || c.BaselineHours != 24 || c.MinHistory != 3 {
		t.Errorf("api_calls config = %+v", c)
	}
	if c := AnomalyConfigFor(api.MetricTokens); c.MinVolume != 100_000 {
		t.Errorf("tokens MinVolume = %v", c.MinVolume)
	}
	if c := AnomalyConfigFor("unknown"); c.MinVolume != DefaultAnomalyMinVolume {
		t.Errorf("unknown metric MinVolume = %v", c.MinVolume)
	}
	if c := (AnomalyConfig{Alpha: 2, K: math.NaN(), MinRatio: -1}).withDefaults(); c.Alpha != 0.3 || c.K != 3 || c.MinRatio != 3 {
		t.Errorf("out-of-range fields not defaulted: %+v", c)
	}
}

func TestAnomalyInput(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 2, 1, 10, 15, 0, 0, time.UTC) // a quarter into the 10:00 hour
	at := func(h int) time.Time { return time.Date(2026, 2, 1, h, 0, 0, 0, time.UTC) }
	points := []store.UsagePoint{
		{Start: at(5), Metric: api.MetricAPICalls, Value: 7},
		{Start: at(5), Metric: api.MetricTokens, Value: 9999}, // another metric
		{Start: at(7), Metric: api.MetricAPICalls, Value: 30},
		{Start: at(8), Metric: api.MetricAPICalls, Value: 40},
		{Start: at(9), Metric: api.MetricAPICalls, Value: 120},                                   // previous hour
		{Start: at(10).In(time.FixedZone("UTC+1", 3600)), Metric: api.MetricAPICalls, Value: 50}, // current hour, in another zone
		{Start: at(11), Metric: api.MetricAPICalls, Value: 1000},                                 // the future
		{Start: at(3), Metric: api.MetricAPICalls, Value: 1000},                                  // before the baseline
	}
	hourly, window := AnomalyInput(points, api.MetricAPICalls, now, 5) // baseline 04:00–08:00
	if want := []float64{0, 7, 0, 30, 40}; !slices.Equal(hourly, want) {
		t.Errorf("baseline = %v, want %v", hourly, want)
	}
	if want := 50 + 120*0.75; window != want {
		t.Errorf("window = %v, want %v", window, want)
	}

	// At the top of the hour the window is the previous hour.
	if _, w := AnomalyInput(points, api.MetricAPICalls, at(10), 5); w != 50+120 {
		t.Errorf("window at 10:00 = %v, want 170", w)
	}
	hourly, window = AnomalyInput(nil, api.MetricAPICalls, now, 0)
	if len(hourly) != DefaultAnomalyBaselineHours || window != 0 {
		t.Errorf("no points: %d hours, window %v", len(hourly), window)
	}

	from, to := AnomalySeriesRange(now, 5)
	if !from.Equal(at(4)) || !to.Equal(at(11)) {
		t.Errorf("AnomalySeriesRange = [%v, %v), want [04:00, 11:00)", from, to)
	}
}

func TestNewAnomalyAlert(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 2, 1, 10, 15, 0, 0, time.FixedZone("UTC+1", 3600))
	r := Detect(AnomalyConfig{}, slices.Repeat([]float64{100}, 24), 2000)
	a := NewAnomalyAlert("ws_1", api.MetricAPICalls, r, now)
	if err := a.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if a.Kind != api.AlertAnomaly || a.Period != "2026-02-01T09:00:00Z" || a.Value != 2000 || a.Limit != 100 ||
		a.Threshold != 0 || a.WorkspaceID != "ws_1" || a.CreatedAt.Location() != time.UTC {
		t.Errorf("alert = %+v", a)
	}
	if a.Message == "" {
		t.Error("empty message")
	}
}
