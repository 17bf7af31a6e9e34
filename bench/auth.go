package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// runAuth measures GET /v1/me with a workspace key and with a session JWT
// at 1, 16 and 64 connections on PostgreSQL, and the SQL statements one
// warm request sends (through the counting proxy).
func runAuth(ctx context.Context, o opts, r *report) error {
	db, err := newPGDatabase(ctx, o.pg, "auth")
	if err != nil {
		return err
	}
	defer db.drop()
	p, err := newStmtProxy(hostPort(db.url))
	if err != nil {
		return err
	}
	defer p.close()
	counted, err := startBaton(ctx, p.url(db.url), nil) // same database, counted pool
	if err != nil {
		return err
	}
	defer counted.close()
	b, err := startBaton(ctx, db.url, nil)
	if err != nil {
		return err
	}
	defer b.close()
	_, ws, key, err := b.workspace(ctx, "auth", benchTier)
	if err != nil {
		return err
	}
	kc, err := b.client(key, ws)
	if err != nil {
		return err
	}
	tok, err := kc.Token(ctx)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	creds := map[string]string{"key": key, "session": tok.Token}
	reads := map[string]float64{}
	for kind, cred := range creds {
		c, err := counted.client(cred, ws)
		if err != nil {
			return err
		}
		for range 20 { // warm the cache
			if _, err := c.Me(ctx); err != nil {
				return fmt.Errorf("me (%s): %w", kind, err)
			}
		}
		time.Sleep(1500 * time.Millisecond) // a metering flush interval passes first
		const n = 500
		s0 := p.statements.Load()
		for range n {
			if _, err := c.Me(ctx); err != nil {
				return err
			}
		}
		reads[kind] = float64(p.statements.Load()-s0) / n
	}
	dur := o.pickDur(time.Second, 5*time.Second)
	t := table{header: []string{"credential", "connections", "requests/s", "p50", "p99", "SQL statements per request (warm)", "target"}}
	for _, kind := range []string{"key", "session"} {
		for _, conns := range []int{1, 16, 64} {
			var lats []time.Duration
			var rates []float64
			for range o.runs {
				l := &latencies{}
				var count atomic.Int64
				end := time.Now().Add(dur)
				c, err := b.client(creds[kind], ws)
				if err != nil {
					return err
				}
				start := time.Now()
				err = parallel(conns, func() error {
					for time.Now().Before(end) {
						t := time.Now()
						if _, err := c.Me(ctx); err != nil {
							return err
						}
						l.add(time.Since(t))
						count.Add(1)
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("me: %w", err)
				}
				lats = append(lats, l.snapshot()...)
				rates = append(rates, float64(count.Load())/time.Since(start).Seconds())
			}
			p99 := percentile(lats, 99)
			target := ""
			if conns == 16 {
				target = "p99 < 2 ms: " + check(p99 < 2*time.Millisecond) + "; 0 reads: " + check(reads[kind] == 0)
				r.headline = append(r.headline, fmt.Sprintf("GET /v1/me (%s), 16 connections: %s, p99 %s, %.2f statements/request", kind, rate(median(rates)), ms(p99), reads[kind]))
			}
			t.add(kind, fmt.Sprint(conns), rate(median(rates)), ms(percentile(lats, 50)), ms(p99), fmt.Sprintf("%.2f", reads[kind]), target)
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Authentication (`go run . %sauth`)\n\n", o.flagText())
	fmt.Fprintf(&sb, "`GET /v1/me` on PostgreSQL (in-memory rate limiter, no Redis), closed loop for %s per run, %d runs pooled for the percentiles, median rate. Store reads are SQL statements the server sent to PostgreSQL per request after a warm-up (counted on the wire by a proxy in front of a second server on the same database; background loops included, which is why a warm cache can show a small fraction).\n\n", dur, o.runs)
	sb.WriteString(t.String())
	noteErrors("auth", b.errors.n.Load()+counted.errors.n.Load())
	r.section("auth", sb.String())
	return nil
}
