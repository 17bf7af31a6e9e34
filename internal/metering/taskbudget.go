package metering

import (
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// TaskBudgetAlerts returns the alerts of task t (whose budget is
// t.MaxCostMicros) having spent spent, its children's cost included: one
// threshold alert of metric api.AlertMetricTaskBudget per threshold of
// Thresholds reached, with the task's id as period, so the store keeps
// one per threshold per task however often it is raised. None when t has
// no budget.
func TaskBudgetAlerts(t store.Task, spent int64, now time.Time) []store.Alert {
	if t.MaxCostMicros <= 0 {
		return nil
	}
	var out []store.Alert
	pct := float64(spent) / float64(t.MaxCostMicros) * 100
	for _, th := range Thresholds {
		if spent*100 < int64(th)*t.MaxCostMicros {
			break
		}
		out = append(out, store.Alert{ID: ids.NewAt(ids.Alert, now), WorkspaceID: t.WorkspaceID, Kind: api.AlertThreshold,
			Metric: api.AlertMetricTaskBudget, Threshold: th, Period: t.ID, Value: float64(spent), Limit: float64(t.MaxCostMicros),
			CreatedAt: now, Message: fmt.Sprintf("task %s (queue %s) at %.0f%% of its budget: %s of %s, its children included",
				t.ID, t.Queue, pct, usd(spent), usd(t.MaxCostMicros))})
	}
	return out
}
