package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

const mixedTier = "mixed"

// mixedLimits are the bench tier's with a real rate limit and concurrency.
var mixedLimits = func() api.Limits {
	l := benchLimits
	l.RequestsPerMinute, l.Burst = 1200, 200
	l.MaxConcurrentTasks, l.MaxQueuedTasks = 50, 100_000
	return l
}()

// runMixed offers 1 000 requests/s from 500 clients over 100 workspaces on
// PostgreSQL, with one worker per workspace draining its tasks, and checks
// every submitted task completes.
func runMixed(ctx context.Context, o opts, r *report) error {
	db, err := newPGDatabase(ctx, o.pg, "mixed")
	if err != nil {
		return err
	}
	defer db.drop()
	tiers := map[string]api.Tier{mixedTier: {Name: mixedTier, Limits: mixedLimits}}
	b, err := startBaton(ctx, db.url, tiers)
	if err != nil {
		return err
	}
	defer b.close()
	const workspaces, clients, offered = 100, 500, 1000
	type wsc struct {
		id, key string
		cs      []*client.Client
		tasks   []string
		mu      sync.Mutex
	}
	var wss []*wsc
	for i := range workspaces {
		_, id, key, err := b.workspace(ctx, fmt.Sprintf("mixed-%03d", i), mixedTier)
		if err != nil {
			return err
		}
		w := &wsc{id: id, key: key}
		for range clients / workspaces {
			c, err := b.client(key, id)
			if err != nil {
				return err
			}
			w.cs = append(w.cs, c)
		}
		wss = append(wss, w)
	}
	var stops []func() error
	for _, w := range wss {
		_, _, stop, err := startClaimers(ctx, func() (*client.Client, error) { return b.client(w.key, w.id) }, w.id, "default", 1, 4, nil)
		if err != nil {
			return err
		}
		stops = append(stops, stop)
	}
	routes := []string{"POST /v1/tasks", "GET /v1/tasks/{id}", "GET /v1/tasks", "GET /v1/me", "GET /v1/usage/quota"}
	weights := []int{30, 25, 15, 15, 15}
	lat := map[string]*latencies{}
	for _, rt := range routes {
		lat[rt] = &latencies{}
	}
	var s5xx, s4xx, s429, netErr atomic.Int64
	var submitted atomic.Int64
	var peakRSS atomic.Int64
	rssDone := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-rssDone:
				return
			case <-t.C:
				if v := rssKB(); v > peakRSS.Load() {
					peakRSS.Store(v)
				}
			}
		}
	}()
	var seq atomic.Int64
	warmup := o.pickDur(time.Second, 5*time.Second)
	// One request of the mix; measured ones count in the latencies (every
	// request counts in the error and task totals).
	request := func(measured bool) {
		i := int(seq.Add(1))
		w := wss[i%workspaces]
		c := w.cs[(i/workspaces)%len(w.cs)]
		k := rand.IntN(100)
		rt := routes[len(routes)-1]
		for j, wt := range weights {
			if k < wt {
				rt = routes[j]
				break
			}
			k -= wt
		}
		t := time.Now()
		var err error
		switch rt {
		case "POST /v1/tasks":
			var task api.Task
			task, err = c.SubmitTask(ctx, api.SubmitTaskRequest{Input: json.RawMessage(`{}`)}, "")
			if err == nil {
				submitted.Add(1)
				w.mu.Lock()
				w.tasks = append(w.tasks, task.ID)
				w.mu.Unlock()
			}
		case "GET /v1/tasks/{id}":
			w.mu.Lock()
			id := ""
			if len(w.tasks) > 0 {
				id = w.tasks[rand.IntN(len(w.tasks))]
			}
			w.mu.Unlock()
			if id == "" {
				_, err = c.Me(ctx)
			} else {
				_, err = c.GetTask(ctx, id)
			}
		case "GET /v1/tasks":
			_, err = c.ListTasks(ctx, client.TaskListOptions{})
		case "GET /v1/me":
			_, err = c.Me(ctx)
		default:
			_, err = c.Quota(ctx)
		}
		if measured {
			lat[rt].add(time.Since(t))
		}
		var ae *client.APIError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
			s429.Add(1)
		case errors.As(err, &ae) && ae.Status >= 500:
			s5xx.Add(1)
		case errors.As(err, &ae):
			s4xx.Add(1)
		default:
			netErr.Add(1)
		}
	}
	// Warm-up at the same rate, not measured: 500 clients opening their
	// connections and the server's pool filling up made every slow request
	// of a 30 s run fall in its first second.
	paced(ctx, offered, warmup, func(time.Time) { request(false) })
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	paced(ctx, offered, o.mixedDur, func(time.Time) { request(true) })
	if o.cpuProf != "" {
		pprof.StopCPUProfile()
	}
	// every submitted task must reach succeeded
	deadline := time.Now().Add(60 * time.Second)
	pending := map[*wsc][]string{}
	for _, w := range wss {
		pending[w] = w.tasks
	}
	for len(pending) > 0 && time.Now().Before(deadline) {
		for w, ids := range pending {
			var still []string
			for _, id := range ids {
				if t, err := w.cs[0].GetTask(ctx, id); err != nil || t.Status != "succeeded" {
					still = append(still, id)
				}
			}
			if pending[w] = still; len(still) == 0 {
				delete(pending, w)
			}
		}
		if len(pending) > 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
	lost := 0
	for _, ids := range pending {
		lost += len(ids)
	}
	for _, s := range stops {
		s()
	}
	close(rssDone)
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Mixed load (`go run . %smixed`)\n\n", o.flagText())
	fmt.Fprintf(&sb, "PostgreSQL; %d clients over %d workspaces (tier: 1 200 requests/min, burst 200 per workspace) at %s requests/s offered for %s after a warm-up of %s at that rate whose latencies are not counted (its errors and tasks are), open loop (each request on its own goroutine at its time); one worker per workspace (4 slots) drains the tasks. A task is lost when it has not succeeded 60 s after the load ends.\n\n",
		clients, workspaces, thousands(offered), o.mixedDur, warmup)
	t := table{header: []string{"route", "requests", "p50", "p99", "p99 < 50 ms"}}
	worst := time.Duration(0)
	for _, rt := range routes {
		xs := lat[rt].snapshot()
		p99 := percentile(xs, 99)
		worst = max(worst, p99)
		t.add("`"+rt+"`", thousands(float64(len(xs))), ms(percentile(xs, 50)), ms(p99), check(p99 < 50*time.Millisecond))
	}
	sb.WriteString(t.String())
	fmt.Fprintf(&sb, "\n5xx: %d · unexpected 4xx: %d · 429: %d · network errors: %d · tasks submitted: %d, lost: %d · peak RSS of the bench process (server and clients): %s MiB · server ERROR log lines: %d\n",
		s5xx.Load(), s4xx.Load(), s429.Load(), netErr.Load(), submitted.Load(), lost, thousands(float64(peakRSS.Load())/1024), b.errors.n.Load())
	if b.errors.n.Load() > 0 {
		sb.WriteString("\nFirst ERROR lines:\n\n```\n" + strings.Join(b.errors.first, "\n") + "\n```\n")
	}
	noteErrors("mixed", b.errors.n.Load())
	r.headline = append(r.headline, fmt.Sprintf("mixed %s req/s for %s: 5xx %d, 4xx %d, 429 %d, lost %d, worst route p99 %s", thousands(offered), o.mixedDur, s5xx.Load(), s4xx.Load(), s429.Load(), lost, ms(worst)))
	r.section("mixed", sb.String())
	return nil
}
