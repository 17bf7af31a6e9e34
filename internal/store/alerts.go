package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/genericcorp/baton/pkg/api"
)

// ErrInvalidAlert: an alert with an empty id, an unknown kind, a threshold
// that does not fit its kind, an empty metric or period, a value or limit
// that is NaN or infinite, or a zero CreatedAt. Nothing is recorded.
var ErrInvalidAlert = errors.New("invalid alert")

// Alert is a threshold crossing or a usage anomaly of a workspace, as
// stored. Its key is (WorkspaceID, Kind, Metric, Threshold, Period): one
// alert per threshold per billing period, one anomaly per metric per hour.
type Alert struct {
	ID          string // "alert_" + a time-ordered ULID, made by the caller (ids.New(ids.Alert))
	WorkspaceID string
	Kind        string // api.AlertThreshold or api.AlertAnomaly
	Metric      string // a quota name (threshold) or a usage metric (anomaly)
	Threshold   int    // percent crossed, 80 or 100 (threshold); 0 (anomaly)
	Period      string // YYYY-MM (threshold) or the hour in RFC 3339, UTC (anomaly)
	Value       float64
	Limit       float64 // the quota (threshold) or the baseline rate per hour (anomaly)
	Message     string
	CreatedAt   time.Time
	AckedAt     *time.Time // nil until acknowledged
}

// Validate returns an error wrapping ErrInvalidAlert if a cannot be raised.
func (a Alert) Validate() error {
	bad := func(format string, v ...any) error {
		return fmt.Errorf("%w %s: %s", ErrInvalidAlert, a.ID, fmt.Sprintf(format, v...))
	}
	switch {
	case a.ID == "":
		return fmt.Errorf("%w: empty id", ErrInvalidAlert)
	case a.Kind != api.AlertThreshold && a.Kind != api.AlertAnomaly:
		return bad("unknown kind %q", a.Kind)
	case a.Kind == api.AlertThreshold && a.Threshold <= 0:
		return bad("threshold %d must be positive", a.Threshold)
	case a.Kind == api.AlertAnomaly && a.Threshold != 0:
		return bad("anomaly with threshold %d", a.Threshold)
	case a.Metric == "":
		return bad("empty metric")
	case a.Period == "":
		return bad("empty period")
	case math.IsNaN(a.Value) || math.IsInf(a.Value, 0) || math.IsNaN(a.Limit) || math.IsInf(a.Limit, 0):
		return bad("value %v, limit %v: not finite", a.Value, a.Limit)
	case a.CreatedAt.IsZero():
		return bad("zero time")
	}
	return nil
}

// AlertStore keeps a workspace's alerts.
type AlertStore interface {
	// RaiseAlert inserts a unless the workspace already has an alert with
	// the same (kind, metric, threshold, period); raised is false (and err
	// nil) for such a duplicate, whatever its id. Concurrent raises of one
	// key insert one row. ErrInvalidAlert if a is invalid, ErrNotFound if
	// its workspace does not exist, ErrConflict if its id is taken by an
	// alert with another key.
	RaiseAlert(ctx context.Context, a Alert) (raised bool, err error)
	// ListAlerts returns one page of workspaceID's alerts, newest first
	// (id descending): rows with an id lower than p.After (when set), at
	// most p.Limit; unacknowledged ones only unless all. Never nil.
	ListAlerts(ctx context.Context, workspaceID string, all bool, p Page) ([]Alert, error)
	// AckAlert sets the alert's AckedAt to now unless set (acknowledging
	// twice keeps the first time) and returns the alert. ErrNotFound if
	// workspaceID has no alert id.
	AckAlert(ctx context.Context, workspaceID, id string, now time.Time) (Alert, error)
}
