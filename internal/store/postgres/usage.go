package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
)

var _ usagerows.Tx = txRows{}

// RecordUsage runs usagerows.Record in one transaction.
func (s *Store) RecordUsage(ctx context.Context, events ...store.UsageEvent) (int, error) {
	if err := usagerows.Validate(events); err != nil {
		return 0, err
	}
	if len(events) == 0 {
		return 0, nil
	}
	var n int
	err := s.withTx(ctx, func(tx *pipeTx) error {
		var err error
		n, err = usagerows.Record(ctx, txRows{tx: tx}, events)
		return err
	})
	return n, err
}

// InsertUsage inserts events in one statement (arrays unnested), skipping
// existing (workspace, id) pairs, and returns the inserted ones.
func (x txRows) InsertUsage(ctx context.Context, events []store.UsageEvent) ([]store.UsageEvent, error) {
	n := len(events)
	wss, ids, metrics, tasks := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	values, ats := make([]int64, n), make([]time.Time, n)
	for i, e := range events {
		wss[i], ids[i], metrics[i], tasks[i] = e.WorkspaceID, e.ID, e.Metric, e.TaskID
		values[i], ats[i] = e.Value, ts(e.At)
	}
	rows, err := x.tx.Query(ctx, `INSERT INTO usage_events (workspace_id, id, metric, value, at, task_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::text[])
		ON CONFLICT (workspace_id, id) DO NOTHING
		RETURNING workspace_id, metric, value, at`, wss, ids, metrics, values, ats, tasks)
	return collect(rows, mapErr(err), func(sc scanner) (store.UsageEvent, error) {
		var e store.UsageEvent
		err := sc.Scan(&e.WorkspaceID, &e.Metric, &e.Value, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
}

// RecordBatch inserts events (at most usagerows.Batch) and adds the
// inserted ones to the hourly and monthly rollups, in one statement (see
// usageParts).
func (x txRows) RecordBatch(ctx context.Context, events []store.UsageEvent) (int, error) {
	var c composite
	c.add(usageParts(events)...)
	var inserted int
	err := x.tx.QueryRow(ctx, c.sql("SELECT count(*) FROM usage_ins"), c.args...).Scan(&inserted)
	return inserted, mapErr(err)
}

// usageParts are the CTEs that record events: usage_ins inserts them
// (skipping ids already there), usage_h and usage_m sum the inserted ones
// into the hourly and monthly rollups from its RETURNING, upserted in key
// order so concurrent writers lock rollup rows in one order.
func usageParts(events []store.UsageEvent) []part {
	n := len(events)
	wss, ids, metrics, tasks := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	values, ats := make([]int64, n), make([]time.Time, n)
	for i, e := range events {
		wss[i], ids[i], metrics[i], tasks[i] = e.WorkspaceID, e.ID, e.Metric, e.TaskID
		values[i], ats[i] = e.Value, ts(e.At)
	}
	return []part{
		{"usage_ins", stmt{sql: `INSERT INTO usage_events (workspace_id, id, metric, value, at, task_id)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[], $6::text[])
			ON CONFLICT (workspace_id, id) DO NOTHING
			RETURNING workspace_id, metric, value, at`, args: []any{wss, ids, metrics, values, ats, tasks}}},
		{"usage_h", stmt{sql: `INSERT INTO usage_hourly (workspace_id, metric, hour, value)
			SELECT workspace_id, metric, date_trunc('hour', at, 'UTC'), sum(value) FROM usage_ins
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
			ON CONFLICT (workspace_id, metric, hour) DO UPDATE SET value = usage_hourly.value + excluded.value`}},
		{"usage_m", stmt{sql: `INSERT INTO usage_monthly (workspace_id, metric, period, value)
			SELECT workspace_id, metric, date_trunc('month', at, 'UTC'), sum(value) FROM usage_ins
			GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
			ON CONFLICT (workspace_id, metric, period) DO UPDATE SET value = usage_monthly.value + excluded.value`}},
	}
}

// AddUsage adds incs to the hourly or monthly rollup. incs come sorted by
// key, so concurrent transactions lock rollup rows in the same order.
func (x txRows) AddUsage(ctx context.Context, monthly bool, incs []usagerows.Increment) error {
	table, col := "usage_hourly", "hour"
	if monthly {
		table, col = "usage_monthly", "period"
	}
	n := len(incs)
	wss, metrics, starts, values := make([]string, n), make([]string, n), make([]time.Time, n), make([]int64, n)
	for i, inc := range incs {
		wss[i], metrics[i], starts[i], values[i] = inc.WorkspaceID, inc.Metric, inc.Start, inc.Value
	}
	_, err := x.tx.Exec(ctx, `INSERT INTO `+table+` (workspace_id, metric, `+col+`, value)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[])
		ON CONFLICT (workspace_id, metric, `+col+`) DO UPDATE SET value = `+table+`.value + excluded.value`,
		wss, metrics, starts, values)
	return mapErr(err)
}

// UsageTotals reads workspaceID's monthly rollup for the period holding period.
func (s *Store) UsageTotals(ctx context.Context, workspaceID string, period time.Time) (map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT metric, value FROM usage_monthly
		WHERE workspace_id = $1 AND period = $2`, workspaceID, store.UsagePeriod(period))
	out := map[string]int64{}
	if err == nil {
		var (
			m string
			v int64
		)
		_, err = pgx.ForEachRow(rows, []any{&m, &v}, func() error { out[m] = v; return nil })
	}
	if err != nil {
		return nil, fmt.Errorf("usage totals of %s: %w", workspaceID, err)
	}
	return out, nil
}

// AllUsageTotals reads every workspace's monthly rollup for the period
// holding period: the operator's cross-tenant view.
func (s *Store) AllUsageTotals(ctx context.Context, period time.Time) (map[string]map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT workspace_id, metric, value FROM usage_monthly
		WHERE period = $1`, store.UsagePeriod(period))
	out := map[string]map[string]int64{}
	if err == nil {
		var (
			ws, m string
			v     int64
		)
		_, err = pgx.ForEachRow(rows, []any{&ws, &m, &v}, func() error {
			if out[ws] == nil {
				out[ws] = map[string]int64{}
			}
			out[ws][m] = v
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("all usage totals: %w", err)
	}
	return out, nil
}

// UsageSeries reads workspaceID's hourly rollup: one range scan per metric
// of the primary key.
func (s *Store) UsageSeries(ctx context.Context, workspaceID string, from, to time.Time, granularity string) ([]store.UsagePoint, error) {
	lo, hi, err := usagerows.SeriesRange(from, to, granularity)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT metric, hour, value FROM usage_hourly
		WHERE workspace_id = $1 AND metric = ANY ($2) AND hour >= $3 AND hour < $4
		ORDER BY hour, metric`, workspaceID, store.UsageMetrics, lo, ts(hi))
	hours, err := collect(rows, err, func(sc scanner) (store.UsagePoint, error) {
		var p store.UsagePoint
		err := sc.Scan(&p.Metric, &p.Start, &p.Value)
		p.Start = p.Start.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("usage series of %s: %w", workspaceID, err)
	}
	return usagerows.Series(hours, granularity), nil
}
