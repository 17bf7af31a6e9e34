package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/pkg/api"
)

// BenchStepsJournal is the journal size of BenchSteps' task: each begin
// reads the task's journal, so its cost grows with it.
const BenchStepsJournal = 20

// BenchSteps measures a task's step calls at the store: "run" a begin and
// an end of a new step (one transaction each), "replay" the begin of a
// recorded step in a later attempt (answered from the journal), over a
// journal of BenchStepsJournal steps. It reports steps/s.
func BenchSteps(b *testing.B, s store.Store) {
	ctx := b.Context()
	ws := newWorkspace("bench-steps")
	if err := s.CreateWorkspace(ctx, ws, newKey(ws.ID)); err != nil {
		b.Fatalf("CreateWorkspace: %v", err)
	}
	now := time.Now().UTC()
	// next starts a new task with a new attempt running, so that every
	// journal stays BenchStepsJournal steps long.
	next := func() store.Task {
		t := newTask(ws.ID)
		t.CreatedAt, t.RunAt = now, now
		if _, _, err := s.CreateTask(ctx, t, nil); err != nil {
			b.Fatalf("CreateTask: %v", err)
		}
		p := params(ws.ID, now)
		p.Max = 1
		got, err := s.ClaimTasks(ctx, p)
		if err != nil || len(got) != 1 {
			b.Fatalf("ClaimTasks: %v", err)
		}
		return got[0]
	}
	b.Run("run", func(b *testing.B) {
		var t store.Task
		for i := 0; i < b.N; i++ {
			if i%BenchStepsJournal == 0 {
				b.StopTimer()
				t = next()
				b.StartTimer()
			}
			key := fmt.Sprintf("step-%d", i%BenchStepsJournal)
			if _, err := s.BeginStep(ctx, ws.ID, t.ID, store.StepBegin{Key: key, Kind: api.StepRun, Attempt: t.Attempt, Now: now, Lease: lease}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.EndStep(ctx, ws.ID, t.ID, store.StepEnd{Key: key, Attempt: t.Attempt, Output: json.RawMessage(`{"ok":true}`),
				Usage: &store.Usage{Tokens: int64(i)}, Now: now, Lease: lease}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	})
	b.Run("replay", func(b *testing.B) {
		b.StopTimer()
		t := next()
		for i := range BenchStepsJournal {
			key := fmt.Sprintf("step-%d", i)
			if _, err := s.BeginStep(ctx, ws.ID, t.ID, store.StepBegin{Key: key, Kind: api.StepRun, Attempt: t.Attempt, Now: now, Lease: lease}); err != nil {
				b.Fatal(err)
			}
			if _, err := s.EndStep(ctx, ws.ID, t.ID, store.StepEnd{Key: key, Attempt: t.Attempt, Now: now, Lease: lease}); err != nil {
				b.Fatal(err)
			}
		}
		attempt := t.Attempt
		b.StartTimer()
		for i := 0; i < b.N; i++ {
			if i%BenchStepsJournal == 0 {
				// A new attempt replays the journal from the top.
				b.StopTimer()
				if _, err := s.Complete(ctx, ws.ID, t.ID, attempt, store.Outcome{Status: api.TaskFailed, Error: "again", Retryable: true, Now: now}); err != nil {
					b.Fatal(err)
				}
				if _, err := s.RetryTask(ctx, ws.ID, t.ID, "", now); err != nil && i > 0 {
					_ = err // a retryable failure already queued it
				}
				p := params(ws.ID, now)
				got, err := s.ClaimTasks(ctx, p)
				if err != nil || len(got) != 1 {
					b.Fatalf("ClaimTasks: %v", err)
				}
				attempt = got[0].Attempt
				b.StartTimer()
			}
			got, err := s.BeginStep(ctx, ws.ID, t.ID, store.StepBegin{Key: fmt.Sprintf("step-%d", i%BenchStepsJournal), Kind: api.StepRun,
				Attempt: attempt, Now: now, Lease: lease})
			if err != nil || got.Action != api.ActionDone {
				b.Fatalf("replay = %+v, %v", got, err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
	})
}
