package metering

import (
	"cmp"
	"math"
	"slices"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// Rates is the operator's cost model, in integer micro-dollars.
type Rates struct {
	ExecutionSecondMicros int64 // per second of execution
	APICallMicros         int64 // per API call
}

// Cost is one workspace's revenue, cost and margin for a billing period.
// Compute cost is execution time (in milliseconds, so sub-second execution
// is not lost; rounded to the nearest micro-dollar) and API calls at rates;
// agent cost is the spend agents reported. Revenue is the tier's monthly
// price.
func Cost(ws store.Workspace, tier api.Tier, totals map[string]int64, rates Rates) api.WorkspaceCost {
	ms := totals[store.MetricExecutionMS]
	calls := totals[store.MetricAPICalls]
	compute := roundDiv(ms*rates.ExecutionSecondMicros, 1000) + calls*rates.APICallMicros
	c := api.WorkspaceCost{
		WorkspaceID:       ws.ID,
		WorkspaceName:     ws.Name,
		Tier:              ws.Tier,
		ExecutionMS:       ms,
		APICalls:          calls,
		RevenueMicros:     tier.PriceMonthlyMicro,
		ComputeCostMicros: compute,
		AgentCostMicros:   totals[store.MetricCostMicros],
	}
	c.CostMicros = c.ComputeCostMicros + c.AgentCostMicros
	finish(&c)
	return c
}

// finish sets the margin fields from revenue and cost.
func finish(c *api.WorkspaceCost) {
	c.MarginMicros = c.RevenueMicros - c.CostMicros
	c.Negative = c.MarginMicros < 0
	c.MarginPercent = nil
	if c.RevenueMicros > 0 {
		p := math.Round(float64(c.MarginMicros)/float64(c.RevenueMicros)*10000) / 100
		c.MarginPercent = &p
	}
}

// roundDiv is a/b rounded half away from zero, for a ≥ 0 and b > 0.
func roundDiv(a, b int64) int64 { return (a + b/2) / b }

// CostReport sorts rows worst margin first (then by workspace id) and sums
// them into the totals row.
func CostReport(period string, rows []api.WorkspaceCost) api.CostReport {
	slices.SortFunc(rows, func(a, b api.WorkspaceCost) int {
		return cmp.Or(cmp.Compare(a.MarginMicros, b.MarginMicros), cmp.Compare(a.WorkspaceID, b.WorkspaceID))
	})
	var t api.WorkspaceCost
	for _, r := range rows {
		t.ExecutionMS += r.ExecutionMS
		t.APICalls += r.APICalls
		t.RevenueMicros += r.RevenueMicros
		t.ComputeCostMicros += r.ComputeCostMicros
		t.AgentCostMicros += r.AgentCostMicros
		t.CostMicros += r.CostMicros
	}
	finish(&t)
	if rows == nil {
		rows = []api.WorkspaceCost{}
	}
	return api.CostReport{Period: period, Data: rows, Totals: t}
}
