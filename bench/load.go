package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

type pgxTx = pgx.Tx

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(discard{}, &slog.HandlerOptions{Level: slog.LevelError + 1}))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// parallel runs f in n goroutines and returns the first error.
func parallel(n int, f func() error) error {
	var g errgroup.Group
	for range n {
		g.Go(f)
	}
	return g.Wait()
}

// stamp is a task input carrying its submit time, for pickup latency.
func stamp(t time.Time) json.RawMessage {
	return json.RawMessage(`{"t":` + strconv.FormatInt(t.UnixNano(), 10) + `}`)
}

func stampOf(in json.RawMessage) (time.Time, bool) {
	var v struct {
		T int64 `json:"t"`
	}
	if json.Unmarshal(in, &v) != nil || v.T == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, v.T), true
}

// batonSubmit submits n no-op tasks to queue with conc goroutines.
func batonSubmit(ctx context.Context, c *client.Client, queue string, n, conc int, lat *latencies) (time.Duration, error) {
	var next atomic.Int64
	start := time.Now()
	err := parallel(conc, func() error {
		for next.Add(1) <= int64(n) {
			t := time.Now()
			if _, err := c.SubmitTask(ctx, api.SubmitTaskRequest{Queue: queue, Input: json.RawMessage(`{}`)}, ""); err != nil {
				return err
			}
			if lat != nil {
				lat.add(time.Since(t))
			}
		}
		return nil
	})
	return time.Since(start), err
}

// claimer is one worker: it long-polls for up to slots free slots with
// one claim (max_tasks) and completes each task in its own goroutine.
type claimer struct {
	c        *client.Client
	ws       string
	queue    string
	slots    int
	id       string
	pickup   *latencies    // when set, time from a task's stamp to its claim
	done     *atomic.Int64 // completed tasks, shared
	claimErr *atomic.Int64
}

func (w *claimer) run(ctx context.Context) error {
	sem := make(chan struct{}, w.slots)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		sem <- struct{}{}
		free := 1
	more:
		for free < w.slots {
			select {
			case sem <- struct{}{}:
				free++
			default:
				break more
			}
		}
		res, err := w.c.ClaimTasks(ctx, api.ClaimRequest{Queues: []string{w.queue}, WorkerID: w.id, WaitSeconds: 1, MaxTasks: free})
		now := time.Now()
		if err != nil {
			for range free {
				<-sem
			}
			if ctx.Err() != nil {
				return nil
			}
			w.claimErr.Add(1)
			if w.claimErr.Load() > 100 {
				return fmt.Errorf("claim: %w", err)
			}
			continue
		}
		for range free - len(res.Tasks) {
			<-sem
		}
		for _, t := range res.Tasks {
			if w.pickup != nil {
				if st, ok := stampOf(t.Input); ok {
					w.pickup.add(now.Sub(st))
				}
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, err := w.c.CompleteTask(context.WithoutCancel(ctx), w.ws, t.ID, api.CompleteRequest{Attempt: t.Attempt, Output: json.RawMessage(`{}`)}); err != nil {
					w.claimErr.Add(1)
					return
				}
				w.done.Add(1)
			}()
		}
	}
	return nil
}

// startClaimers runs loops claimers of slots each on queue until the
// returned stop is called; done counts completed tasks, and dead is closed
// when a claimer gave up (stop returns why).
func startClaimers(ctx context.Context, mk func() (*client.Client, error), ws, queue string, loops, slots int, pickup *latencies) (done *atomic.Int64, dead <-chan struct{}, stop func() error, err error) {
	done, errs := &atomic.Int64{}, &atomic.Int64{}
	cctx, cancel := context.WithCancel(ctx)
	g, gctx := errgroup.WithContext(cctx)
	for i := range loops {
		c, err := mk()
		if err != nil {
			cancel()
			return nil, nil, nil, err
		}
		w := &claimer{c: c, ws: ws, queue: queue, slots: slots, id: fmt.Sprintf("bench-%d", i), pickup: pickup, done: done, claimErr: errs}
		g.Go(func() error { return w.run(gctx) })
	}
	return done, gctx.Done(), func() error {
		cancel()
		err := g.Wait()
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return err
	}, nil
}

// batonDrain drains n queued tasks with loops claimers of slots each.
func batonDrain(ctx context.Context, mk func() (*client.Client, error), ws, queue string, loops, slots, n int) (time.Duration, error) {
	start := time.Now()
	done, dead, stop, err := startClaimers(ctx, mk, ws, queue, loops, slots, nil)
	if err != nil {
		return 0, err
	}
	// Until every task is done, or the claimers gave up (a drain whose
	// claims are all refused ends with their error at once instead of
	// waiting out the deadline), or 5 minutes.
	deadline := time.After(5 * time.Minute)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
wait:
	for done.Load() < int64(n) {
		select {
		case <-tick.C:
		case <-dead:
			break wait
		case <-deadline:
			break wait
		}
	}
	d := time.Since(start)
	serr := stop()
	if serr != nil {
		return d, fmt.Errorf("baton drain: %d of %d done: %w", done.Load(), n, serr)
	}
	if done.Load() < int64(n) {
		return d, fmt.Errorf("baton drain: %d of %d done after 5 min", done.Load(), n)
	}
	return d, nil
}

// paced calls f at rate per second for dur (bounded), each call in its
// own goroutine, and waits for them all.
func paced(ctx context.Context, perSec int, dur time.Duration, f func(time.Time)) {
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(perSec)
	start := time.Now()
	total := int(dur / interval)
	for i := range total {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				wg.Wait()
				return
			}
		}
		wg.Add(1)
		go func() { defer wg.Done(); f(at) }()
	}
	wg.Wait()
}

// idleRun is what runIdle measured: each task's pickup (from its submit to
// its claim) and each submit's latency, and how many submits failed.
type idleRun struct {
	pickup, submit []time.Duration
	failed         int64
}

// runIdle submits 200 tasks/s for dur to a queue of a new workspace name
// that loops idle claimers of one slot long-poll. With prof set, the submits
// are CPU-profiled into that file.
func runIdle(ctx context.Context, b *batonServer, name string, loops int, dur time.Duration, prof string) (idleRun, error) {
	c, ws, key, err := b.workspace(ctx, name, benchTier)
	if err != nil {
		return idleRun{}, err
	}
	pick, sub := &latencies{}, &latencies{}
	_, _, stop, err := startClaimers(ctx, func() (*client.Client, error) { return b.client(key, ws) }, ws, "p", loops, 1, pick)
	if err != nil {
		return idleRun{}, err
	}
	time.Sleep(300 * time.Millisecond) // let every claimer reach its long poll
	if prof != "" {
		f, err := os.Create(prof)
		if err != nil {
			stop()
			return idleRun{}, err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
	}
	var failed atomic.Int64
	paced(ctx, 200, dur, func(time.Time) {
		t := time.Now()
		if _, err := c.SubmitTask(ctx, api.SubmitTaskRequest{Queue: "p", Input: stamp(t)}, ""); err != nil {
			failed.Add(1)
			return
		}
		sub.add(time.Since(t))
	})
	time.Sleep(200 * time.Millisecond) // the last tasks' claims
	if prof != "" {
		pprof.StopCPUProfile()
	}
	if err := stop(); err != nil {
		return idleRun{}, err
	}
	return idleRun{pickup: pick.snapshot(), submit: sub.snapshot(), failed: failed.Load()}, nil
}
