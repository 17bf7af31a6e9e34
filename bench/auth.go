package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/genericcorp/baton/pkg/api"
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
	u, err := url.Parse(b.url)
	if err != nil {
		return err
	}
	headers := map[string]http.Header{}
	for kind, cred := range creds {
		if headers[kind], err = clientHeaders(ctx, cred, ws, "/v1/me"); err != nil {
			return err
		}
	}
	drivers := []string{driverClient, driverRaw}
	t := table{header: []string{"credential", "driver", "connections", "requests/s", "p50", "p99", "bench process CPU per request", "SQL statements per request (warm)", "target"}}
	for _, kind := range []string{"key", "session"} {
		meOK := meCheck(ws, kind == "session")
		for _, conns := range []int{1, 16, 64} {
			type cell struct {
				lats  []time.Duration
				rates []float64
				cpu   time.Duration
			}
			cells := map[string]*cell{}
			for range o.runs {
				for _, d := range drivers { // interleaved: a drift of the machine hits both
					c := cells[d]
					if c == nil {
						c = &cell{}
						cells[d] = c
					}
					cpu0 := selfCPU()
					var lats []time.Duration
					var elapsed time.Duration
					if d == driverRaw {
						var res rawResult
						res, err = runRaw(ctx, u.Host, "/v1/me", headers[kind], conns, dur, meOK)
						lats, elapsed = res.lats, res.elapsed
					} else {
						lats, elapsed, err = clientMe(ctx, b, creds[kind], ws, conns, dur)
					}
					if err != nil {
						return fmt.Errorf("me (%s, %s, %d connections): %w", kind, d, conns, err)
					}
					c.cpu += selfCPU() - cpu0
					c.lats = append(c.lats, lats...)
					c.rates = append(c.rates, float64(len(lats))/elapsed.Seconds())
				}
			}
			for _, d := range drivers {
				c := cells[d]
				p99 := percentile(c.lats, 99)
				target := ""
				if conns == 16 && d == driverRaw {
					target = "p99 < 2 ms: " + check(p99 < 2*time.Millisecond) + "; 0 reads: " + check(reads[kind] == 0)
				} else if conns == 16 {
					target = "for comparison (the target is the raw row's)"
				}
				cpu := time.Duration(ratio(float64(c.cpu), float64(len(c.lats))))
				t.add(kind, d, fmt.Sprint(conns), rate(median(c.rates)), ms(percentile(c.lats, 50)), ms(p99), us(cpu), fmt.Sprintf("%.2f", reads[kind]), target)
			}
			if conns == 16 {
				raw, cl := cells[driverRaw], cells[driverClient]
				r.headline = append(r.headline, fmt.Sprintf("GET /v1/me (%s), 16 connections, raw HTTP/1.1 driver: %s, p99 %s (pkg/client driver: %s, p99 %s), %.2f statements/request",
					kind, rate(median(raw.rates)), ms(percentile(raw.lats, 99)), rate(median(cl.rates)), ms(percentile(cl.lats, 99)), reads[kind]))
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Authentication (`go run . %sauth`)\n\n", o.flagText())
	fmt.Fprintf(&sb, "`GET /v1/me` on PostgreSQL (in-memory rate limiter, no Redis), closed loop for %s per run, %d runs pooled for the percentiles, median rate. Store reads are SQL statements the server sent to PostgreSQL per request after a warm-up (counted on the wire by a proxy in front of a second server on the same database; background loops included, which is why a warm cache can show a small fraction).\n\n", dur, o.runs)
	sb.WriteString(t.String())
	sb.WriteString("\nIssue 12's target (p99 < 2 ms at 16 connections on loopback) is about the server, so it is checked on the raw HTTP/1.1 driver's row. The load runs in this process, on the same cores as the server: pkg/client (net/http's transport, a context and a timer per request, an answer decoded into `api.Me`) costs about twice the server's CPU per request (the CPU column is the whole bench process's, server and driver, per request, background loops and each run's setup included), so with it much of the p99 is the driver waiting for a core. At 1 connection the column is mostly the Go scheduler spinning between the two sides' wake-ups, not work. The raw driver (bench/raw.go, as wrk or oha do) writes a pre-built request (the headers pkg/client sends, captured off the wire, with a fresh `X-Request-Id` each, so the server does the same work) on keep-alive connections and reads each answer into reused buffers; each connection's first answer, before the clock starts, is decoded as `api.Me` and checked, and every later one must be a 200 of the same length. The pkg/client rows are kept for comparison: they are what a Go program using the SDK sees on a machine it shares with the server. Each run of each row has new connections; the two drivers' runs alternate.\n")
	noteErrors("auth", b.errors.n.Load()+counted.errors.n.Load())
	r.section("auth", sb.String())
	return nil
}

// The auth scenario's load drivers, as its table names them.
const (
	driverClient = "pkg/client"
	driverRaw    = "raw HTTP/1.1"
)

// clientMe drives GET /v1/me through a new pkg/client on conns goroutines
// in a closed loop for dur: each request's latency and the time taken.
func clientMe(ctx context.Context, b *batonServer, cred, ws string, conns int, dur time.Duration) ([]time.Duration, time.Duration, error) {
	c, err := b.client(cred, ws)
	if err != nil {
		return nil, 0, err
	}
	l := &latencies{}
	start := time.Now()
	end := start.Add(dur)
	err = parallel(conns, func() error {
		for time.Now().Before(end) {
			t := time.Now()
			if _, err := c.Me(ctx); err != nil {
				return err
			}
			l.add(time.Since(t))
		}
		return nil
	})
	return l.snapshot(), time.Since(start), err
}

// meCheck checks an answer of GET /v1/me: an api.Me of workspace ws, for
// a session JWT or the key itself.
func meCheck(ws string, session bool) func([]byte) error {
	return func(body []byte) error {
		var me api.Me
		if err := json.Unmarshal(body, &me); err != nil {
			return fmt.Errorf("decode api.Me: %w", err)
		}
		if me.Workspace == nil || me.Workspace.ID != ws {
			return fmt.Errorf("an answer for another workspace than %s: %s", ws, body)
		}
		if me.Key.Session != session {
			return fmt.Errorf("key.session = %v, want %v", me.Key.Session, session)
		}
		return nil
	}
}
