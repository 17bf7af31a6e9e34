package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/genericcorp/baton/internal/metering"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

func (s *Server) handleListAlerts(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	all := false
	switch st := r.URL.Query().Get("state"); st {
	case "", "open":
	case "all":
		all = true
	default:
		pr := api.Errorf(api.CodeInvalidRequest, "state %q must be open or all", st)
		pr.Errors = []api.FieldError{{Field: "state", Message: "must be open or all"}}
		return pr
	}
	list := "alerts"
	if all {
		list = "alerts-all"
	}
	pg, err := pageParams(r, list, p.workspaceID)
	if err != nil {
		return err
	}
	rows, err := s.store.ListAlerts(r.Context(), p.workspaceID, all, fetchPage(pg))
	if err != nil {
		return err
	}
	encode(w, http.StatusOK, page(rows, pg.Limit, list, p.workspaceID, func(a store.Alert) string { return a.ID }, metering.ToAPI))
	return nil
}

func (s *Server) handleAckAlert(w http.ResponseWriter, r *http.Request, p *principal) error {
	if err := needWorkspace(p); err != nil {
		return err
	}
	id := r.PathValue("id")
	a, err := s.store.AckAlert(r.Context(), p.workspaceID, id, s.now())
	if err != nil {
		return storeError(err, "alert", id)
	}
	encode(w, http.StatusOK, metering.ToAPI(a))
	return nil
}

// EvaluateAlerts checks every workspace with usage this period for quota
// thresholds and usage anomalies once (RunBackground does it every
// AlertEvery). Each new alert is logged, counted and sent to the webhooks.
func (s *Server) EvaluateAlerts(ctx context.Context) error {
	now := s.now()
	totals, err := s.store.AllUsageTotals(ctx, now)
	if err != nil {
		return err
	}
	return s.eachWorkspace(ctx, func(ws store.Workspace) error {
		t, ok := totals[ws.ID]
		if !ok {
			return nil // no usage this period: no threshold, no spike
		}
		_, err := s.evaluator.Check(ctx, ws, s.limits(ws), t)
		if errors.Is(err, store.ErrNotFound) {
			return nil // deleted while it was evaluated
		}
		return err
	})
}

// alertRaised logs, counts and sends a new alert.
func (s *Server) alertRaised(a store.Alert) {
	s.metrics.alerts.WithLabelValues(a.Kind).Inc()
	s.log.Warn("alert", "alert_id", a.ID, "workspace_id", a.WorkspaceID, "kind", a.Kind, "metric", a.Metric,
		"threshold", a.Threshold, "period", a.Period, "value", a.Value, "limit", a.Limit, "message", a.Message)
	if s.notifier != nil {
		s.notifier.Enqueue(a)
	}
}
