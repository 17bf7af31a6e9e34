package metering

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// TaskBudgetAlerts raises a threshold at exactly its percentage of the
// budget (integer micros, no float rounding), both at once past 100 %,
// and none for a task without a budget; the alert names the task.
func TestTaskBudgetAlerts(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	task := store.Task{ID: "task_1", WorkspaceID: "ws_1", Queue: "q", MaxCostMicros: 50_000}
	for spent, want := range map[int64][]int{0: nil, 39_999: nil, 40_000: {80}, 49_999: {80}, 50_000: {80, 100}, 60_000: {80, 100}} {
		got := TaskBudgetAlerts(task, spent, now)
		var ths []int
		for _, a := range got {
			ths = append(ths, a.Threshold)
			if err := a.Validate(); err != nil {
				t.Errorf("alert %+v: %v", a, err)
			}
			if a.Kind != api.AlertThreshold || a.Metric != api.AlertMetricTaskBudget || a.Period != "task_1" || a.WorkspaceID != "ws_1" ||
				a.Value != float64(spent) || a.Limit != 50_000 || !strings.HasPrefix(a.Message, "task task_1 (queue q) at ") {
				t.Errorf("alert %+v", a)
			}
		}
		if !slices.Equal(ths, want) {
			t.Errorf("spent %d: thresholds %v, want %v", spent, ths, want)
		}
	}
	task.MaxCostMicros = 0
	if got := TaskBudgetAlerts(task, 1_000_000, now); got != nil {
		t.Errorf("no budget: %+v", got)
	}
}
