package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/client"
)

// storeRun is one store's numbers of one interleaved run.
type storeRun struct {
	submit, drain16, drain4x16    float64 // tasks/s
	submitP99                     time.Duration
	rSubmit, rDrain16, rDrain4x16 float64
	rSubmitP99                    time.Duration
	batonCPU, riverCPU            time.Duration // per task
}

type throughputResult struct {
	store                         string
	runs                          []storeRun
	pickup, rPickup               []time.Duration // samples at 200/s
	submitIdle                    map[int]time.Duration
	depth                         map[int][2]float64 // queued -> submit, claim rate
	stmtSubmit, stmtClaimComplete float64            // SQL statements per task
	tripSubmit, tripClaimComplete float64            // round trips to PostgreSQL per task
}

func runThroughput(ctx context.Context, o opts, r *report) error {
	var results []throughputResult
	var profile string
	for _, st := range o.stores {
		res, prof, err := throughputStore(ctx, o, st)
		if err != nil {
			return fmt.Errorf("throughput %s: %w", st, err)
		}
		results = append(results, res)
		if prof != "" {
			profile = prof
		}
	}
	r.section("throughput", renderThroughput(o, results, profile, r))
	return nil
}

func throughputStore(ctx context.Context, o opts, store string) (throughputResult, string, error) {
	res := throughputResult{store: store, submitIdle: map[int]time.Duration{}, depth: map[int][2]float64{}}
	n := o.tasks
	var dbURL string
	var db *pgDatabase
	if store == "postgres" {
		var err error
		if db, err = newPGDatabase(ctx, o.pg, "tp"); err != nil {
			return res, "", err
		}
		defer db.drop()
		dbURL = db.url
	}
	b, err := startBaton(ctx, dbURL, nil)
	if err != nil {
		return res, "", err
	}
	defer b.close()
	logf("throughput %s: baton at %s", store, b.url)

	submitRiver, drainRiver, closeRiver, err := riverFor(ctx, store, dbURL, b.dir)
	if err != nil {
		return res, "", err
	}
	defer closeRiver()

	cpuNow := func() (time.Duration, map[int]time.Duration) {
		if db == nil {
			return selfCPU(), nil
		}
		return selfCPU(), backendCPU(ctx, o.pg, db.name)
	}
	cpuSince := func(s0 time.Duration, b0 map[int]time.Duration) time.Duration {
		s1, b1 := cpuNow()
		return s1 - s0 + cpuDelta(b0, b1)
	}
	profile := ""
	for i := range o.runs {
		var sr storeRun
		// baton
		c, ws, key, err := b.workspace(ctx, fmt.Sprintf("tp-%d", i), benchTier)
		if err != nil {
			return res, "", err
		}
		mk := func() (*client.Client, error) { return b.client(key, ws) }
		var prof *os.File
		if store == "postgres" && i == 0 {
			prof, _ = os.CreateTemp("", "baton-bench-*.prof")
			pprof.StartCPUProfile(prof)
		}
		s0, b0 := cpuNow()
		lat := &latencies{}
		d, err := batonSubmit(ctx, c, "q", n, 16, lat)
		if err != nil {
			return res, "", fmt.Errorf("baton submit: %w", err)
		}
		sr.submit, sr.submitP99 = float64(n)/d.Seconds(), percentile(lat.snapshot(), 99)
		if d, err = batonDrain(ctx, mk, ws, "q", 16, 1, n); err != nil {
			return res, "", err
		}
		sr.drain16 = float64(n) / d.Seconds()
		sr.batonCPU = cpuSince(s0, b0) / time.Duration(n)
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
			profile = profileTop(prof.Name())
			os.Remove(prof.Name())
		}
		if _, err := batonSubmit(ctx, c, "q4", n, 16, nil); err != nil {
			return res, "", err
		}
		if d, err = batonDrain(ctx, mk, ws, "q4", 4, 16, n); err != nil {
			return res, "", err
		}
		sr.drain4x16 = float64(n) / d.Seconds()
		// River, same run
		s0, b0 = cpuNow()
		rlat := &latencies{}
		if d, err = submitRiver(n, rlat); err != nil {
			return res, "", fmt.Errorf("river submit: %w", err)
		}
		sr.rSubmit, sr.rSubmitP99 = float64(n)/d.Seconds(), percentile(rlat.snapshot(), 99)
		if d, err = drainRiver(1, 16, n); err != nil {
			return res, "", err
		}
		sr.rDrain16 = float64(n) / d.Seconds()
		sr.riverCPU = cpuSince(s0, b0) / time.Duration(n)
		if _, err = submitRiver(n, nil); err != nil {
			return res, "", err
		}
		if d, err = drainRiver(4, 16, n); err != nil {
			return res, "", err
		}
		sr.rDrain4x16 = float64(n) / d.Seconds()
		logf("  run %d: baton submit %.0f/s drain16 %.0f/s 4x16 %.0f/s; river %.0f/s %.0f/s %.0f/s",
			i+1, sr.submit, sr.drain16, sr.drain4x16, sr.rSubmit, sr.rDrain16, sr.rDrain4x16)
		res.runs = append(res.runs, sr)
	}

	// Pickup latency and submit latency with idle claimers at 200 submits/s.
	paceDur := o.pickDur(1500*time.Millisecond, 5*time.Second)
	for _, loops := range []int{4, 16, 64} {
		run, err := runIdle(ctx, b, fmt.Sprintf("idle-%d", loops), loops, paceDur, "")
		if err != nil {
			return res, "", err
		}
		if run.failed > 0 {
			return res, "", fmt.Errorf("%d of the submits at 200/s with %d idle claimers failed", run.failed, loops)
		}
		res.submitIdle[loops] = percentile(run.submit, 50)
		if loops == 16 {
			res.pickup = run.pickup
		}
	}
	if res.rPickup, err = riverPickup(ctx, store, dbURL, b.dir, paceDur); err != nil {
		return res, "", err
	}

	// Depth: submit and claim rates with 1 000 and many tasks queued.
	m := min(o.tasks, 2000)
	for _, depth := range []int{1000, o.depth} {
		c, ws, key, err := b.workspace(ctx, fmt.Sprintf("depth-%d", depth), benchTier)
		if err != nil {
			return res, "", err
		}
		if _, err := batonSubmit(ctx, c, "deep", depth, 64, nil); err != nil {
			return res, "", err
		}
		var subs, claims []float64
		for range o.runs {
			d, err := batonSubmit(ctx, c, "deep", m, 16, nil)
			if err != nil {
				return res, "", err
			}
			subs = append(subs, float64(m)/d.Seconds())
			if d, err = batonDrain(ctx, func() (*client.Client, error) { return b.client(key, ws) }, ws, "deep", 16, 1, m); err != nil {
				return res, "", err
			}
			claims = append(claims, float64(m)/d.Seconds())
		}
		res.depth[depth] = [2]float64{median(subs), median(claims)}
		logf("  depth %d: submit %.0f/s claim %.0f/s", depth, median(subs), median(claims))
	}

	if store == "postgres" {
		if res.stmtSubmit, res.stmtClaimComplete, res.tripSubmit, res.tripClaimComplete, err = statementsPerTask(ctx, o); err != nil {
			return res, "", err
		}
	}
	if e := b.errors.n.Load(); e > 0 {
		logf("  %d ERROR log lines, first: %s", e, strings.Join(b.errors.first, "\n"))
	}
	noteErrors(store+" throughput", b.errors.n.Load())
	return res, profile, nil
}

// riverFor returns River submit and drain functions on the store's
// database (PostgreSQL: the same database as baton; SQLite: a file beside
// baton's).
func riverFor(ctx context.Context, store, dbURL, dir string) (submit func(int, *latencies) (time.Duration, error), drain func(clients, workers, n int) (time.Duration, error), closeFn func(), err error) {
	if store == "postgres" {
		r, err := riverPG(ctx, dbURL)
		if err != nil {
			return nil, nil, nil, err
		}
		ins, err := riverClient(r, 0, nil)
		if err != nil {
			return nil, nil, nil, err
		}
		return func(n int, l *latencies) (time.Duration, error) { return riverSubmit(ctx, ins, n, 16, l) },
			func(c, w, n int) (time.Duration, error) { return riverDrain(ctx, r, c, w, n) }, r.close, nil
	}
	r, err := riverSQLite(ctx, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	ins, err := riverClient(r, 0, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return func(n int, l *latencies) (time.Duration, error) { return riverSubmit(ctx, ins, n, 16, l) },
		func(c, w, n int) (time.Duration, error) { return riverDrain(ctx, r, c, w, n) }, r.close, nil
}

// riverPickup runs one River client with 16 workers and inserts at 200/s.
func riverPickup(ctx context.Context, store, dbURL, dir string, dur time.Duration) ([]time.Duration, error) {
	pick := &latencies{}
	var start func() error
	var stop func()
	var insert func(t time.Time) error
	if store == "postgres" {
		r, err := riverPG(ctx, dbURL)
		if err != nil {
			return nil, err
		}
		defer r.close()
		c, err := riverClient(r, 16, pick)
		if err != nil {
			return nil, err
		}
		start = func() error { return c.Start(ctx) }
		stop = func() { s, cancel := context.WithTimeout(ctx, 10*time.Second); c.Stop(s); cancel() }
		insert = func(t time.Time) error { _, err := c.Insert(ctx, noopArgs{T: t.UnixNano()}, nil); return err }
	} else {
		r, err := riverSQLite(ctx, dir)
		if err != nil {
			return nil, err
		}
		defer r.close()
		c, err := riverClient(r, 16, pick)
		if err != nil {
			return nil, err
		}
		start = func() error { return c.Start(ctx) }
		stop = func() { s, cancel := context.WithTimeout(ctx, 10*time.Second); c.Stop(s); cancel() }
		insert = func(t time.Time) error { _, err := c.Insert(ctx, noopArgs{T: t.UnixNano()}, nil); return err }
	}
	if err := start(); err != nil {
		return nil, err
	}
	time.Sleep(300 * time.Millisecond)
	paced(ctx, 200, dur, func(time.Time) { insert(time.Now()) })
	time.Sleep(200 * time.Millisecond)
	stop()
	return pick.snapshot(), nil
}

// statementsPerTask runs a baton server whose pool goes through a
// statement-counting proxy: 200 submits, then one claimer draining them.
// It returns the statements and the round trips per task of each part.
func statementsPerTask(ctx context.Context, o opts) (submit, claimComplete, submitTrips, claimCompleteTrips float64, err error) {
	db, err := newPGDatabase(ctx, o.pg, "stmt")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer db.drop()
	p, err := newStmtProxy(hostPort(db.url))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer p.close()
	b, err := startBaton(ctx, p.url(db.url), nil)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer b.close()
	c, ws, key, err := b.workspace(ctx, "stmt", benchTier)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	const n = 200
	time.Sleep(500 * time.Millisecond) // background loops settle
	s0, r0 := p.statements.Load(), p.roundTrips.Load()
	if _, err := batonSubmit(ctx, c, "s", n, 4, nil); err != nil {
		return 0, 0, 0, 0, err
	}
	s1, r1 := p.statements.Load(), p.roundTrips.Load()
	if _, err := batonDrain(ctx, func() (*client.Client, error) { return b.client(key, ws) }, ws, "s", 1, 1, n); err != nil {
		return 0, 0, 0, 0, err
	}
	s2, r2 := p.statements.Load(), p.roundTrips.Load()
	return float64(s1-s0) / n, float64(s2-s1) / n, float64(r1-r0) / n, float64(r2-r1) / n, nil
}

// profileTop is `go tool pprof -top` of a CPU profile, first 15 functions.
func profileTop(path string) string {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=15", path).CombinedOutput()
	if err != nil {
		return "pprof failed: " + err.Error()
	}
	if cum, err := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=15", "-show=genericcorp", path).CombinedOutput(); err == nil {
		out = append(append(out, "\n\nbaton's own functions by cumulative time (-cum -show=genericcorp):\n"...), cum...)
	}
	lines := strings.Split(string(bytes.TrimSpace(out)), "\n")
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Time:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Active filters") || strings.HasPrefix(l, "   show=") {
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n")
}

func renderThroughput(o opts, rs []throughputResult, profile string, r *report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Throughput (`go run . %sthroughput`)\n\n", o.flagText())
	fmt.Fprintf(&b, "No-op tasks through the HTTP API (pkg/client, one task per submit request; claimers long-poll with `max_tasks` = free slots and complete each task) against River %s in process on the same database server (PostgreSQL: the same database; SQLite: a file beside baton's, one connection as River advises). Medians of %d interleaved runs of %s tasks. \"16\" is 16 claim loops of 1 slot (River: one client, 16 workers); \"4×16\" is 4 claim loops of 16 slots (River: 4 clients of 16 workers). CPU per task is this process (server + load driver) plus, on PostgreSQL, the backends of the benchmark database (/proc), over submit + drain 16.\n\n",
		riverVersion, o.runs, thousands(float64(o.tasks)))
	t := table{header: []string{"", "baton", "River", "ratio", "target"}}
	for _, res := range rs {
		col := func(f func(storeRun) float64) float64 {
			var xs []float64
			for _, s := range res.runs {
				xs = append(xs, f(s))
			}
			return median(xs)
		}
		colD := func(f func(storeRun) time.Duration) time.Duration {
			var xs []time.Duration
			for _, s := range res.runs {
				xs = append(xs, f(s))
			}
			return medianDuration(xs)
		}
		sub, rsub := col(func(s storeRun) float64 { return s.submit }), col(func(s storeRun) float64 { return s.rSubmit })
		d16, rd16 := col(func(s storeRun) float64 { return s.drain16 }), col(func(s storeRun) float64 { return s.rDrain16 })
		d64, rd64 := col(func(s storeRun) float64 { return s.drain4x16 }), col(func(s storeRun) float64 { return s.rDrain4x16 })
		s := res.store
		t.add(s+" submit, 16 clients", rate(sub)+" (p99 "+ms(colD(func(s storeRun) time.Duration { return s.submitP99 }))+")",
			rate(rsub)+" (p99 "+ms(colD(func(s storeRun) time.Duration { return s.rSubmitP99 }))+")", x(ratio(sub, rsub)), "≥ 0.5×: "+check(ratio(sub, rsub) >= 0.5))
		t.add(s+" drain, 16", rate(d16), rate(rd16), x(ratio(d16, rd16)), "≥ 0.5×: "+check(ratio(d16, rd16) >= 0.5))
		target := ""
		if s == "postgres" {
			target = "baton 4×16 ≥ 1.3× 16: " + x(ratio(d64, d16)) + " " + check(ratio(d64, d16) >= 1.3)
		}
		t.add(s+" drain, 4×16", rate(d64), rate(rd64), x(ratio(d64, rd64)), target)
		pp50, pp99 := percentile(res.pickup, 50), percentile(res.pickup, 99)
		target = ""
		if s == "postgres" {
			target = "p50 ≤ 2 ms, p99 ≤ 10 ms: " + check(pp50 <= 2*time.Millisecond && pp99 <= 10*time.Millisecond)
		}
		t.add(s+" pickup p50 / p99 at 200 submits/s, 16 idle claimers", ms(pp50)+" / "+ms(pp99),
			ms(percentile(res.rPickup, 50))+" / "+ms(percentile(res.rPickup, 99)), "", target)
		i4, i64 := res.submitIdle[4], res.submitIdle[64]
		t.add(s+" submit p50 at 200/s with 4 / 16 / 64 idle claimers", ms(i4)+" / "+ms(res.submitIdle[16])+" / "+ms(i64), "", "",
			"64 within 2× of 4: "+x(ratio(float64(i64), float64(i4)))+" "+check(float64(i64) <= 2*float64(i4)))
		deep := o.depth
		a, z := res.depth[1000], res.depth[deep]
		flat := func(a, b float64) bool { return b >= 0.8*a && b <= 1.2*a }
		t.add(fmt.Sprintf("%s submit / claim rate, 1 000 queued", s), rate(a[0])+" / "+rate(a[1]), "", "", "")
		t.add(fmt.Sprintf("%s submit / claim rate, %s queued", s, thousands(float64(deep))), rate(z[0])+" / "+rate(z[1]), "", x(ratio(z[0], a[0]))+" / "+x(ratio(z[1], a[1])),
			"within 20 %: "+check(flat(a[0], z[0]) && flat(a[1], z[1])))
		bc, rc := colD(func(s storeRun) time.Duration { return s.batonCPU }), colD(func(s storeRun) time.Duration { return s.riverCPU })
		t.add(s+" CPU per task", ms(bc), ms(rc), x(ratio(float64(bc), float64(rc))), "")
		if s == "postgres" {
			tot := res.stmtSubmit + res.stmtClaimComplete
			t.add("postgres SQL statements per task (submit + claim + complete)", fmt.Sprintf("%.1f (%.1f + %.1f)", tot, res.stmtSubmit, res.stmtClaimComplete), "", "", "≤ 10: "+check(tot <= 10))
			trips := res.tripSubmit + res.tripClaimComplete
			t.add("postgres round trips per task (submit + claim + complete)", fmt.Sprintf("%.1f (%.1f + %.1f)", trips, res.tripSubmit, res.tripClaimComplete), "", "", "")
			r.headline = append(r.headline, fmt.Sprintf("PostgreSQL submit %s vs River %s (%s), drain 16 %s vs %s (%s), 4×16 %s; pickup p50/p99 %s/%s; %.1f statements per task",
				rate(sub), rate(rsub), x(ratio(sub, rsub)), rate(d16), rate(rd16), x(ratio(d16, rd16)), rate(d64), ms(pp50), ms(pp99), tot))
		} else {
			r.headline = append(r.headline, fmt.Sprintf("SQLite submit %s vs River %s (%s), drain 16 %s vs %s (%s)", rate(sub), rate(rsub), x(ratio(sub, rsub)), rate(d16), rate(rd16), x(ratio(d16, rd16))))
		}
	}
	b.WriteString(t.String())
	b.WriteString("\nSQL statements and round trips are counted on the wire: the server's pool goes through a TCP proxy that counts the frontend's Execute messages and the statements of its simple Query messages (`BEGIN; SELECT set_config(…)` is two), and as round trips its Sync and Query messages (`pg_stat_statements` is not preloaded on the shared PostgreSQL, and restarting it would disturb others), 200 tasks, one claimer, so idle long polls add little.\n")
	b.WriteString("\n### CPU profile, PostgreSQL submit + drain 16 (this process: server and load driver), top 15\n\n```\n" + profile + "\n```\n")
	return b.String()
}
