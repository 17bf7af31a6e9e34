package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite"
)

// noopArgs is River's no-op job; T is the submit time for pickup latency.
type noopArgs struct {
	T int64 `json:"t"`
}

func (noopArgs) Kind() string { return "noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	pickup *latencies
}

func (w *noopWorker) Work(ctx context.Context, j *river.Job[noopArgs]) error {
	if w.pickup != nil && j.Args.T > 0 {
		w.pickup.add(time.Since(time.Unix(0, j.Args.T)))
	}
	return nil
}

// riverDB is River on one database: clients are made by newClient.
type riverDB[TTx any] struct {
	newClient func(cfg *river.Config) (*river.Client[TTx], error)
	close     func()
}

func riverPG(ctx context.Context, url string) (*riverDB[pgxTx], error) {
	pool, err := pgxpool.New(ctx, url+"&pool_max_conns=32")
	if err != nil {
		return nil, err
	}
	drv := riverpgxv5.New(pool)
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		pool.Close()
		return nil, fmt.Errorf("river migrate: %w", err)
	}
	return &riverDB[pgxTx]{newClient: func(cfg *river.Config) (*river.Client[pgxTx], error) {
		return river.NewClient(drv, cfg)
	}, close: pool.Close}, nil
}

func riverSQLite(ctx context.Context, dir string) (*riverDB[*sql.Tx], error) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "river.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // River's advice for SQLite: one writer
	drv := riversqlite.New(db)
	m, err := rivermigrate.New(drv, nil)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("river migrate: %w", err)
	}
	return &riverDB[*sql.Tx]{newClient: func(cfg *river.Config) (*river.Client[*sql.Tx], error) {
		return river.NewClient(drv, cfg)
	}, close: func() { db.Close() }}, nil
}

// riverWorkers is one river.Client with maxWorkers on the default queue
// (or an insert-only client when maxWorkers is 0).
func riverClient[TTx any](r *riverDB[TTx], maxWorkers int, pickup *latencies) (*river.Client[TTx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{pickup: pickup})
	cfg := &river.Config{Workers: workers, Logger: quietLogger(), FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond}
	if maxWorkers > 0 {
		cfg.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}}
	}
	return r.newClient(cfg)
}

// riverSubmit inserts n jobs with conc goroutines, one Insert per job.
func riverSubmit[TTx any](ctx context.Context, c *river.Client[TTx], n, conc int, lat *latencies) (time.Duration, error) {
	var next atomic.Int64
	start := time.Now()
	err := parallel(conc, func() error {
		for next.Add(1) <= int64(n) {
			t := time.Now()
			if _, err := c.Insert(ctx, noopArgs{}, nil); err != nil {
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

// riverDrain starts clients River clients of maxWorkers each and waits
// until n jobs have completed (the completer's events, i.e. persisted).
func riverDrain[TTx any](ctx context.Context, r *riverDB[TTx], clients, maxWorkers, n int) (time.Duration, error) {
	var cs []*river.Client[TTx]
	done := make(chan struct{})
	var completed atomic.Int64
	for range clients {
		c, err := riverClient(r, maxWorkers, nil)
		if err != nil {
			return 0, err
		}
		cs = append(cs, c)
		ev, cancel := c.Subscribe(river.EventKindJobCompleted)
		defer cancel()
		go func() {
			for range ev {
				if completed.Add(1) == int64(n) {
					close(done)
				}
			}
		}()
	}
	start := time.Now()
	for _, c := range cs {
		if err := c.Start(ctx); err != nil {
			return 0, err
		}
	}
	var err error
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		err = fmt.Errorf("river drain: %d of %d completed after 5 min", completed.Load(), n)
	}
	d := time.Since(start)
	for _, c := range cs {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c.Stop(sctx)
		cancel()
	}
	return d, err
}
