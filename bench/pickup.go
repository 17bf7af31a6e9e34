package main

import (
	"context"
	"fmt"
	"time"
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
			prof := ""
			if loops == 16 {
				prof = o.cpuProf
			}
			run, err := runIdle(ctx, b, fmt.Sprintf("pick-%d", loops), loops, o.pickDur(1500*time.Millisecond, 5*time.Second), prof)
			if err != nil {
				return err
			}
			p, s := run.pickup, run.submit
			fmt.Printf("%s, %d idle claimers: pickup p50 %s p99 %s (%d); submit p50 %s p99 %s (%d failed)\n", st, loops,
				ms(percentile(p, 50)), ms(percentile(p, 99)), len(p), ms(percentile(s, 50)), ms(percentile(s, 99)), run.failed)
		}
		if n := b.errors.n.Load(); n > 0 {
			fmt.Printf("%s: %d server ERROR lines, first: %v\n", st, n, b.errors.first)
		}
	}
	return nil
}
