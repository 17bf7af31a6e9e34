package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/genericcorp/baton/pkg/api"
	"github.com/genericcorp/baton/pkg/client"
)

// runPickup is the throughput scenario's pickup measurement alone, for
// working on it: with 16 idle claimers, 200 submits/s for 5 s on each
// store, it prints pickup and submit p50/p99 and writes nothing.
func runPickup(ctx context.Context, o opts) error {
	for _, st := range o.stores {
		dbURL := ""
		if st == "postgres" {
			db, err := newPGDatabase(ctx, o.pg, "pick")
			if err != nil {
				return err
			}
			defer db.drop()
			dbURL = db.url
		}
		b, err := startBaton(ctx, dbURL, nil)
		if err != nil {
			return err
		}
		defer b.close()
		for _, loops := range []int{1, 4, 16} {
			c, ws, key, err := b.workspace(ctx, fmt.Sprintf("pick-%d", loops), benchTier)
			if err != nil {
				return err
			}
			pick, sub := &latencies{}, &latencies{}
			_, _, stop, err := startClaimers(ctx, func() (*client.Client, error) { return b.client(key, ws) }, ws, "p", loops, 1, pick)
			if err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond) // let every claimer reach its long poll
			if o.cpuProf != "" && loops == 16 {
				f, err := os.Create(o.cpuProf)
				if err != nil {
					return err
				}
				pprof.StartCPUProfile(f)
				defer f.Close()
			}
			var failed atomic.Int64
			paced(ctx, 200, o.pickDur(1500*time.Millisecond, 5*time.Second), func(time.Time) {
				t := time.Now()
				if _, err := c.SubmitTask(ctx, api.SubmitTaskRequest{Queue: "p", Input: stamp(t)}, ""); err != nil {
					failed.Add(1)
					return
				}
				sub.add(time.Since(t))
			})
			time.Sleep(200 * time.Millisecond)
			if o.cpuProf != "" && loops == 16 {
				pprof.StopCPUProfile()
			}
			if err := stop(); err != nil {
				return err
			}
			p, s := pick.snapshot(), sub.snapshot()
			fmt.Printf("%s, %d idle claimers: pickup p50 %s p99 %s (%d); submit p50 %s p99 %s (%d failed)\n", st, loops,
				ms(percentile(p, 50)), ms(percentile(p, 99)), len(p), ms(percentile(s, 50)), ms(percentile(s, 99)), failed.Load())
		}
		if n := b.errors.n.Load(); n > 0 {
			fmt.Printf("%s: %d server ERROR lines, first: %v\n", st, n, b.errors.first)
		}
	}
	return nil
}
