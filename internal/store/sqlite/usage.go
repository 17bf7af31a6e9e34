package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
)

var _ usagerows.Tx = txRows{}

// RecordUsage runs usagerows.Record in one write transaction.
func (s *Store) RecordUsage(ctx context.Context, events ...store.UsageEvent) (int, error) {
	if err := usagerows.Validate(events); err != nil {
		return 0, err
	}
	if len(events) == 0 {
		return 0, nil
	}
	var n int
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = usagerows.Record(ctx, s.rows(tx), events)
		return err
	})
	return n, err
}

// InsertUsage inserts events in one statement, skipping existing
// (workspace, id) pairs, and returns the inserted ones.
func (x txRows) InsertUsage(ctx context.Context, events []store.UsageEvent) ([]store.UsageEvent, error) {
	var q strings.Builder
	q.WriteString(`INSERT INTO usage_events (workspace_id, id, metric, value, at, task_id) VALUES `)
	args := make([]any, 0, 6*len(events))
	for i, e := range events {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?, ?, ?)")
		args = append(args, e.WorkspaceID, e.ID, e.Metric, e.Value, micros(e.At), e.TaskID)
	}
	q.WriteString(` ON CONFLICT (workspace_id, id) DO NOTHING RETURNING workspace_id, metric, value, at`)
	rows, err := x.tx.QueryContext(ctx, q.String(), args...)
	return collect(rows, mapErr(err), func(sc scanner) (store.UsageEvent, error) {
		var (
			e  store.UsageEvent
			at int64
		)
		err := sc.Scan(&e.WorkspaceID, &e.Metric, &e.Value, &at)
		e.At = fromMicros(at)
		return e, err
	})
}

// AddUsage adds incs to the hourly or monthly rollup.
func (x txRows) AddUsage(ctx context.Context, monthly bool, incs []usagerows.Increment) error {
	table, col := "usage_hourly", "hour"
	if monthly {
		table, col = "usage_monthly", "period"
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO ` + table + ` (workspace_id, metric, ` + col + `, value) VALUES `)
	args := make([]any, 0, 4*len(incs))
	for i, inc := range incs {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?, ?, ?)")
		args = append(args, inc.WorkspaceID, inc.Metric, micros(inc.Start), inc.Value)
	}
	q.WriteString(` ON CONFLICT (workspace_id, metric, ` + col + `) DO UPDATE SET value = ` + table + `.value + excluded.value`)
	_, err := x.tx.ExecContext(ctx, q.String(), args...)
	return mapErr(err)
}

// UsageTotals reads workspaceID's monthly rollup for the period holding period.
func (s *Store) UsageTotals(ctx context.Context, workspaceID string, period time.Time) (map[string]int64, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT metric, value FROM usage_monthly
		WHERE workspace_id = ?1 AND period = ?2`, workspaceID, micros(store.UsagePeriod(period)))
	out := map[string]int64{}
	if err := eachRow(rows, err, func(sc scanner) error {
		var (
			m string
			v int64
		)
		err := sc.Scan(&m, &v)
		out[m] = v
		return err
	}); err != nil {
		return nil, fmt.Errorf("usage totals of %s: %w", workspaceID, err)
	}
	return out, nil
}

// AllUsageTotals reads every workspace's monthly rollup for the period
// holding period: the operator's cross-tenant view.
func (s *Store) AllUsageTotals(ctx context.Context, period time.Time) (map[string]map[string]int64, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT workspace_id, metric, value FROM usage_monthly
		WHERE period = ?1`, micros(store.UsagePeriod(period)))
	out := map[string]map[string]int64{}
	if err := eachRow(rows, err, func(sc scanner) error {
		var (
			ws, m string
			v     int64
		)
		err := sc.Scan(&ws, &m, &v)
		if out[ws] == nil {
			out[ws] = map[string]int64{}
		}
		out[ws][m] = v
		return err
	}); err != nil {
		return nil, fmt.Errorf("all usage totals: %w", err)
	}
	return out, nil
}

// UsageSeries reads workspaceID's hourly rollup: one range seek per metric
// of the primary key.
func (s *Store) UsageSeries(ctx context.Context, workspaceID string, from, to time.Time, granularity string) ([]store.UsagePoint, error) {
	lo, hi, err := usagerows.SeriesRange(from, to, granularity)
	if err != nil {
		return nil, err
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT metric, hour, value FROM usage_hourly
		WHERE workspace_id = ?1 AND metric IN (`+metricList+`) AND hour >= ?2 AND hour < ?3
		ORDER BY hour, metric`, workspaceID, micros(lo), micros(hi))
	hours, err := collect(rows, err, func(sc scanner) (store.UsagePoint, error) {
		var (
			p    store.UsagePoint
			hour int64
		)
		err := sc.Scan(&p.Metric, &hour, &p.Value)
		p.Start = fromMicros(hour)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("usage series of %s: %w", workspaceID, err)
	}
	return usagerows.Series(hours, granularity), nil
}

// metricList is store.UsageMetrics as SQL string literals.
var metricList = "'" + strings.Join(store.UsageMetrics, "', '") + "'"

// eachRow calls fn for every row of a query that returned rows and err,
// closing rows.
func eachRow(rows *sql.Rows, err error, fn func(scanner) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
