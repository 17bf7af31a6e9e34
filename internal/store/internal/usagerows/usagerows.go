// Package usagerows holds the dialect-free parts of the usage stores:
// summing new events into rollup increments and days out of hours.
package usagerows

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// Batch is how many events one multi-row INSERT carries (6 parameters each:
// well under SQLite's and PostgreSQL's parameter limits).
const Batch = 500

// Key identifies one rollup row.
type Key struct {
	WorkspaceID string
	Metric      string
	Start       time.Time // hour or period start, UTC
}

// Increment is a value to add to one rollup row.
type Increment struct {
	Key
	Value int64
}

// Validate checks every event (repeats of an id within one call are left
// to the insert, which keeps the first).
func Validate(events []store.UsageEvent) error {
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Workspaces returns the distinct workspace ids of events, sorted.
func Workspaces(events []store.UsageEvent) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range events {
		if !seen[e.WorkspaceID] {
			seen[e.WorkspaceID] = true
			out = append(out, e.WorkspaceID)
		}
	}
	sort.Strings(out)
	return out
}

// Rollups sums the newly inserted events into hourly and monthly
// increments, each sorted by key (a fixed order keeps concurrent upserts
// from deadlocking on PostgreSQL).
func Rollups(inserted []store.UsageEvent) (hourly, monthly []Increment) {
	return sum(inserted, store.UsageHour), sum(inserted, store.UsagePeriod)
}

func sum(events []store.UsageEvent, bucket func(time.Time) time.Time) []Increment {
	m := map[Key]int64{}
	for _, e := range events {
		m[Key{e.WorkspaceID, e.Metric, bucket(e.At)}] += e.Value
	}
	out := make([]Increment, 0, len(m))
	for k, v := range m {
		out = append(out, Increment{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.WorkspaceID != b.WorkspaceID {
			return a.WorkspaceID < b.WorkspaceID
		}
		if a.Metric != b.Metric {
			return a.Metric < b.Metric
		}
		return a.Start.Before(b.Start)
	})
	return out
}

// SeriesRange checks granularity and returns the range of hours to read:
// [from truncated to the bucket, to).
func SeriesRange(from, to time.Time, granularity string) (time.Time, time.Time, error) {
	switch granularity {
	case store.GranularityHour:
		return store.UsageHour(from), to.UTC(), nil
	case store.GranularityDay:
		return store.UsageHour(from).Truncate(24 * time.Hour), to.UTC(), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("usage series: unknown granularity %q", granularity)
}

// Series turns hourly points, ordered by hour then metric, into points of
// granularity, ordered by start then metric (never nil).
func Series(hours []store.UsagePoint, granularity string) []store.UsagePoint {
	if granularity != store.GranularityDay {
		return append([]store.UsagePoint{}, hours...)
	}
	out := []store.UsagePoint{}
	var day time.Time
	sums := map[string]int64{}
	flush := func() {
		n := len(out)
		for m, v := range sums {
			out = append(out, store.UsagePoint{Start: day, Metric: m, Value: v})
		}
		d := out[n:]
		sort.Slice(d, func(i, j int) bool { return d[i].Metric < d[j].Metric })
		clear(sums)
	}
	for _, p := range hours {
		// Truncate works on absolute time, so this is the UTC day.
		if d := p.Start.Truncate(24 * time.Hour); !d.Equal(day) {
			flush()
			day = d
		}
		sums[p.Metric] += p.Value
	}
	flush()
	return out
}

// Tx is the row operations of one recording transaction.
type Tx interface {
	// HoldWorkspace returns store.ErrNotFound unless workspace id exists,
	// and keeps it from being deleted until the transaction ends.
	HoldWorkspace(ctx context.Context, id string) error
	// InsertUsage inserts at most Batch events in one statement, skipping
	// those whose (workspace, id) exists, and returns the inserted ones.
	InsertUsage(ctx context.Context, events []store.UsageEvent) ([]store.UsageEvent, error)
	// AddUsage adds each increment to its row of the hourly rollup (monthly
	// false) or the monthly one, creating missing rows; at most Batch
	// increments per call.
	AddUsage(ctx context.Context, monthly bool, incs []Increment) error
}

// OneStatementTx is a Tx that can insert at most Batch events and add the
// inserted ones to both rollups in one statement (PostgreSQL: a
// data-modifying CTE), returning how many it inserted.
type OneStatementTx interface {
	Tx
	RecordBatch(ctx context.Context, events []store.UsageEvent) (int, error)
}

// Record is store.UsageStore.RecordUsage within tx.
func Record(ctx context.Context, tx Tx, events []store.UsageEvent) (int, error) {
	for _, ws := range Workspaces(events) {
		if err := tx.HoldWorkspace(ctx, ws); err != nil {
			return 0, fmt.Errorf("record usage of workspace %s: %w", ws, err)
		}
	}
	return RecordHeld(ctx, tx, events)
}

// RecordHeld is Record for a transaction that already keeps the events'
// workspaces from being deleted (it holds one of their tasks): it skips
// HoldWorkspace. The events must be valid.
func RecordHeld(ctx context.Context, tx Tx, events []store.UsageEvent) (int, error) {
	// Insert in key order, so that concurrent calls carrying the same
	// events in different orders wait on each other instead of deadlocking.
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b store.UsageEvent) int {
		return cmp.Or(strings.Compare(a.WorkspaceID, b.WorkspaceID), strings.Compare(a.ID, b.ID))
	})
	if one, ok := tx.(OneStatementTx); ok && len(events) <= Batch {
		n, err := one.RecordBatch(ctx, events)
		if err != nil {
			return 0, fmt.Errorf("record usage: %w", err)
		}
		return n, nil
	}
	var inserted []store.UsageEvent
	for b := range slices.Chunk(events, Batch) {
		got, err := tx.InsertUsage(ctx, b)
		if err != nil {
			return 0, fmt.Errorf("record usage: %w", err)
		}
		inserted = append(inserted, got...)
	}
	hourly, monthly := Rollups(inserted)
	for i, incs := range [][]Increment{hourly, monthly} {
		for b := range slices.Chunk(incs, Batch) {
			if err := tx.AddUsage(ctx, i == 1, b); err != nil {
				return 0, fmt.Errorf("record usage rollups: %w", err)
			}
		}
	}
	return len(inserted), nil
}

// ConsumedColumns is the SQL of three columns, the store.Consumed of the
// workspace named by the SQL expression ws in the billing period given by
// the placeholder period (the period start in the dialect's time
// encoding): three primary-key reads of the monthly rollup.
func ConsumedColumns(ws, period string) string {
	col := func(metric string) string {
		return `coalesce((SELECT u.value FROM usage_monthly u WHERE u.workspace_id = ` + ws +
			` AND u.metric = '` + metric + `' AND u.period = ` + period + `), 0)`
	}
	return col(store.MetricTaskExecutions) + ", " + col(store.MetricExecutionMS) + ", " + col(store.MetricCostMicros)
}
