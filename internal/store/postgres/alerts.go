package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
)

const alertColumns = `id, workspace_id, kind, metric, threshold, period, value, limit_value,
	message, created_at, acked_at`

func scanAlert(sc scanner) (store.Alert, error) {
	var (
		a         store.Alert
		createdAt time.Time
		ackedAt   *time.Time
	)
	err := sc.Scan(&a.ID, &a.WorkspaceID, &a.Kind, &a.Metric, &a.Threshold, &a.Period, &a.Value, &a.Limit,
		&a.Message, &createdAt, &ackedAt)
	if err != nil {
		return store.Alert{}, err
	}
	a.CreatedAt = createdAt.UTC()
	a.AckedAt = utcPtr(ackedAt)
	return a, nil
}

// RaiseAlert inserts a unless its key (workspace, kind, metric, threshold,
// period) exists. One statement: a concurrent raise of the same key waits
// on the unique index and then does nothing.
func (s *Store) RaiseAlert(ctx context.Context, a store.Alert) (bool, error) {
	if err := a.Validate(); err != nil {
		return false, err
	}
	tag, err := s.exec(ctx, `INSERT INTO alerts (`+alertColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (workspace_id, kind, metric, threshold, period) DO NOTHING`,
		a.ID, a.WorkspaceID, a.Kind, a.Metric, a.Threshold, a.Period, a.Value, a.Limit,
		a.Message, ts(a.CreatedAt), nullTS(a.AckedAt))
	if err != nil {
		return false, fmt.Errorf("raise alert %s: %w", a.ID, mapErr(err))
	}
	return tag.RowsAffected() == 1, nil
}

// ListAlerts returns one page of workspaceID's alerts, newest first,
// unacknowledged only unless all (never nil).
func (s *Store) ListAlerts(ctx context.Context, workspaceID string, all bool, p store.Page) ([]store.Alert, error) {
	q := `SELECT ` + alertColumns + ` FROM alerts WHERE workspace_id = $1`
	args := []any{workspaceID}
	if p.After != "" {
		args = append(args, p.After)
		q += fmt.Sprintf(` AND id < $%d`, len(args))
	}
	if !all {
		q += ` AND acked_at IS NULL`
	}
	args = append(args, rowcodec.PageLimit(p))
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT $%d`, len(args))
	rows, err := s.query(ctx, q, args...)
	out, err := collect(rows, err, scanAlert)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// AckAlert sets the alert's AckedAt to now unless set and returns it.
func (s *Store) AckAlert(ctx context.Context, workspaceID, id string, now time.Time) (store.Alert, error) {
	row := s.queryRow(ctx, `UPDATE alerts SET acked_at = COALESCE(acked_at, $3)
		WHERE workspace_id = $1 AND id = $2 RETURNING `+alertColumns, workspaceID, id, ts(now))
	a, err := scanAlert(row)
	if err != nil {
		return store.Alert{}, fmt.Errorf("ack alert %s: %w", id, mapErr(err))
	}
	return a, nil
}
