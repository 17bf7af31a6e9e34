package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// runScale loads o.scaleRows tasks (1 % queued) and 10× as many usage
// events straight into a fresh PostgreSQL database migrated by baton
// (COPY for tasks, INSERT … SELECT generate_series for events, rollups
// recomputed from the events), then times the reads of one workspace.
func runScale(ctx context.Context, o opts, r *report) error {
	db, err := newPGDatabase(ctx, o.pg, "scale")
	if err != nil {
		return err
	}
	defer db.drop()
	b, err := startBaton(ctx, db.url, nil)
	if err != nil {
		return err
	}
	defer b.close()
	c, ws, _, err := b.workspace(ctx, "scale", benchTier)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	n := o.scaleRows
	events := 10 * n
	loadStart := time.Now()
	now := time.Now().UTC()
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	span := now.Sub(monthStart)
	i := 0
	_, err = conn.CopyFrom(ctx, pgx.Identifier{"tasks"},
		[]string{"id", "workspace_id", "queue", "status", "priority", "input", "attempt", "max_attempts", "run_at", "created_at", "finished_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= n {
				return nil, nil
			}
			at := monthStart.Add(time.Duration(int64(span) / int64(n) * int64(i)))
			i++
			if i%100 == 0 {
				return []any{ids.NewAt(ids.Task, at), ws, "scale", "queued", 0, "{}", 0, 3, at, at, nil}, nil
			}
			return []any{ids.NewAt(ids.Task, at), ws, "done", "succeeded", 0, "{}", 1, 3, at, at, at}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy tasks: %w", err)
	}
	stmts := []string{
		fmt.Sprintf(`INSERT INTO usage_events (workspace_id, id, metric, value, at)
		 SELECT $1, 'ue_' || lpad(g::text, 12, '0'), CASE WHEN g %% 2 = 0 THEN 'api_calls' ELSE 'task_executions' END, 1,
		        $2::timestamptz + (($3::timestamptz - $2::timestamptz) * g / %d)
		   FROM generate_series(1, %d) g`, events, events),
		`DELETE FROM usage_hourly WHERE workspace_id = $1`,
		`INSERT INTO usage_hourly (workspace_id, metric, hour, value)
		 SELECT workspace_id, metric, date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', sum(value)
		   FROM usage_events WHERE workspace_id = $1 GROUP BY 1, 2, 3`,
		`DELETE FROM usage_monthly WHERE workspace_id = $1`,
		`INSERT INTO usage_monthly (workspace_id, metric, period, value)
		 SELECT workspace_id, metric, date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', sum(value)
		   FROM usage_events WHERE workspace_id = $1 GROUP BY 1, 2, 3`,
	}
	if _, err := conn.Exec(ctx, stmts[0], ws, monthStart, now); err != nil {
		return fmt.Errorf("load usage events: %w", err)
	}
	for _, s := range stmts[1:] {
		if _, err := conn.Exec(ctx, s, ws); err != nil {
			return fmt.Errorf("rollups: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		return err
	}
	loaded := time.Since(loadStart)
	logf("scale: loaded %d tasks and %d usage events in %s", n, events, loaded.Round(time.Second))

	metrics := func() error {
		req, _ := http.NewRequestWithContext(ctx, "GET", b.url+"/metrics", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		io.Copy(io.Discard, res.Body)
		if res.StatusCode != 200 {
			return fmt.Errorf("/metrics: %d", res.StatusCode)
		}
		return nil
	}
	ops := []struct {
		name string
		f    func() error
	}{
		{"`GET /v1/usage/quota`", func() error { _, err := c.Quota(ctx); return err }},
		{"`GET /v1/usage` (this month, by day)", func() error {
			_, err := c.Usage(ctx, client.UsageOptions{From: monthStart, To: now.Add(time.Hour), Granularity: "day"})
			return err
		}},
		{"`GET /v1/tasks` (first page)", func() error { _, err := c.ListTasks(ctx, client.TaskListOptions{}); return err }},
		{"`GET /v1/tasks?status=queued`", func() error { _, err := c.ListTasks(ctx, client.TaskListOptions{Status: "queued"}); return err }},
		{"claim 1 + complete", func() error {
			res, err := c.ClaimTasks(ctx, api.ClaimRequest{Queues: []string{"scale"}, WorkerID: "scale", WaitSeconds: 1, MaxTasks: 1})
			if err != nil {
				return err
			}
			if len(res.Tasks) != 1 {
				return fmt.Errorf("claim got %d tasks", len(res.Tasks))
			}
			_, err = c.CompleteTask(ctx, ws, res.Tasks[0].ID, api.CompleteRequest{Attempt: res.Tasks[0].Attempt, Output: json.RawMessage(`{}`)})
			return err
		}},
		{"`GET /metrics`", metrics},
	}
	t := table{header: []string{"operation", "median", "p99 (of runs)", "target"}}
	reps := o.pick(5, 21)
	for _, op := range ops {
		if err := op.f(); err != nil { // warm
			return fmt.Errorf("%s: %w", op.name, err)
		}
		var xs []time.Duration
		for range reps {
			s := time.Now()
			if err := op.f(); err != nil {
				return fmt.Errorf("%s: %w", op.name, err)
			}
			xs = append(xs, time.Since(s))
		}
		target := ""
		if strings.Contains(op.name, "/metrics") {
			target = "< 5 ms: " + check(medianDuration(xs) < 5*time.Millisecond)
			r.headline = append(r.headline, fmt.Sprintf("/metrics with %s tasks: %s", thousands(float64(n)), ms(medianDuration(xs))))
		}
		t.add(op.name, ms(medianDuration(xs)), ms(percentile(xs, 99)), target)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Data scale (`go run . %sscale`)\n\n", o.flagText())
	fmt.Fprintf(&sb, "PostgreSQL, one workspace with %s tasks (1 %% queued, the rest succeeded) and %s usage events this month, loaded in %s straight into the schema baton's migrations made (COPY; `usage_hourly`/`usage_monthly` recomputed from the events), then %d timed calls each through the API.\n\n",
		thousands(float64(n)), thousands(float64(events)), loaded.Round(time.Second), reps)
	sb.WriteString(t.String())
	noteErrors("scale", b.errors.n.Load())
	r.section("scale", sb.String())
	return nil
}
