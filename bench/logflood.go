package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// runLogFlood is issue 13's log flood: one free-tier task's agent writes
// log lines as fast as the server takes them for -flood-duration while
// another tenant (unlimited tier) submits and reads tasks at a steady pace. It shows
// what the flooding task stored against its tier's max_log_bytes_per_task
// and the other tenant's latency before and during the flood.
func runLogFlood(ctx context.Context, o opts, r *report) error {
	db, err := newPGDatabase(ctx, o.pg, "logflood")
	if err != nil {
		return err
	}
	defer db.drop()
	b, err := startBaton(ctx, db.url, nil)
	if err != nil {
		return err
	}
	defer b.close()
	flooder, fws, _, err := b.workspace(ctx, "flooder", "free")
	if err != nil {
		return err
	}
	// The neighbour is on the bench tier (no rate limit), so that what it
	// measures is the flood's effect, not its own limit.
	other, _, _, err := b.workspace(ctx, "neighbour", benchTier)
	if err != nil {
		return err
	}
	task, err := flooder.SubmitTask(ctx, api.SubmitTaskRequest{TimeoutSeconds: 300}, "")
	if err != nil {
		return err
	}
	if _, err := flooder.ClaimTasks(ctx, api.ClaimRequest{WorkerID: "flood"}); err != nil {
		return err
	}

	// The neighbour: submit, then read it back, 20 times a second.
	const pace = 20
	measure := func(dur time.Duration) (*latencies, int64) {
		lat := &latencies{}
		var errs atomic.Int64
		paced(ctx, pace, dur, func(time.Time) {
			t0 := time.Now()
			t, err := other.SubmitTask(ctx, api.SubmitTaskRequest{}, "")
			if err == nil {
				_, err = other.GetTask(ctx, t.ID)
			}
			if err != nil {
				errs.Add(1)
				return
			}
			lat.add(time.Since(t0))
		})
		return lat, errs.Load()
	}
	before, errsBefore := measure(o.pickDur(3*time.Second, 30*time.Second))

	// The flood: 4 writers of 1 000-line requests of 100-byte lines, each
	// request a heartbeat's worth of an agent's `yes`, back to back.
	line := strings.Repeat("y", 99)
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = line
	}
	floodDur := o.floodDur
	fctx, stopFlood := context.WithTimeout(ctx, floodDur)
	var sent, refused, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for fctx.Err() == nil {
				err := flooder.AppendLogs(fctx, fws, task.ID, api.LogsRequest{Attempt: 1, Lines: lines})
				var ae *client.APIError
				switch {
				case err == nil:
					sent.Add(int64(len(lines)))
				case errors.As(err, &ae) && ae.Status == 429:
					refused.Add(1)
				case fctx.Err() == nil:
					failed.Add(1)
				}
			}
		})
	}
	during, errsDuring := measure(floodDur)
	stopFlood()
	wg.Wait()

	conn, err := pgx.Connect(ctx, db.url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var stored, bytes int64
	if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(sum(octet_length(message) + 1), 0)
		FROM task_events WHERE task_id = $1 AND type = 'log'`, task.ID).Scan(&stored, &bytes); err != nil {
		return err
	}
	got, err := flooder.GetTask(ctx, task.ID)
	if err != nil {
		return err
	}
	budget := int64(1 << 20) // the free tier's max_log_bytes_per_task
	xb, xd := before.snapshot(), during.snapshot()
	p99b, p99d := percentile(xb, 99), percentile(xd, 99)
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Log flood (`go run . %slogflood`)\n\n", o.flagText())
	fmt.Fprintf(&sb, "PostgreSQL. A free-tier task (max_log_bytes_per_task 1 MiB) has 4 writers posting 1 000 lines of 100 bytes per request, back to back, for %s, while a neighbour on an unlimited tier submits and reads back a task %d times a second (before the flood for %s, then during it).\n\n",
		floodDur, pace, o.pickDur(3*time.Second, 30*time.Second))
	t := table{header: []string{"", "value"}}
	t.add("log lines accepted by the server (204)", thousands(float64(sent.Load())))
	t.add("log requests refused 429 (worker rate limit) / failed", fmt.Sprintf("%s / %s", thousands(float64(refused.Load())), thousands(float64(failed.Load()))))
	t.add("log lines stored / bytes stored (line + newline)", fmt.Sprintf("%s / %s", thousands(float64(stored)), thousands(float64(bytes))))
	t.add("task's log_bytes / logs_dropped", fmt.Sprintf("%s / %s", thousands(float64(got.LogBytes)), thousands(float64(got.LogsDropped))))
	t.add("stored within the budget (1 MiB + the notice line)", check(got.LogBytes <= budget && bytes <= budget+200))
	t.add("neighbour submit+get p50 / p99 before", ms(percentile(xb, 50))+" / "+ms(p99b))
	t.add("neighbour submit+get p50 / p99 during", ms(percentile(xd, 50))+" / "+ms(p99d))
	t.add("neighbour p99 during within 2× of before", fmt.Sprintf("%s (%s)", check(p99d <= 2*p99b), x(ratio(float64(p99d), float64(p99b)))))
	t.add("neighbour errors before / during", fmt.Sprintf("%d / %d", errsBefore, errsDuring))
	sb.WriteString(t.String())
	fmt.Fprintf(&sb, "\nServer ERROR log lines: %d\n", b.errors.n.Load())
	noteErrors("logflood", b.errors.n.Load())
	r.headline = append(r.headline, fmt.Sprintf("log flood %s: stored %s bytes of a 1 MiB budget, %s lines dropped; neighbour p99 %s before, %s during",
		floodDur, thousands(float64(bytes)), thousands(float64(got.LogsDropped)), ms(p99b), ms(p99d)))
	r.section("logflood", sb.String())
	return nil
}
