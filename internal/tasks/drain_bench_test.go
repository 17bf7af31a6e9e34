package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/genericcorp/baton/internal/ids"
	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/postgres"
	"github.com/genericcorp/baton/internal/tasks"
	"github.com/genericcorp/baton/internal/testutil"
	"github.com/genericcorp/baton/pkg/api"
)

// BenchmarkServiceDrain16Postgres: 16 workers claim (one task each time)
// and complete a workspace's queue through the task service on
// PostgreSQL — the path of POST /v1/tasks/claim and /complete without
// HTTP — reported as tasks/s. Claims that arrive together go to the store
// together (claimTogether).
func BenchmarkServiceDrain16Postgres(b *testing.B) {
	st, err := postgres.Open(b.Context(), testutil.PostgresSchema(b), 32)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	ws := store.Workspace{ID: ids.New(ids.Workspace), Name: "drain", Tier: "team", Status: api.WorkspaceActive,
		Overrides: api.Overrides{}, CreatedAt: now, UpdatedAt: now}
	key := store.Key{ID: ids.New(ids.Key), WorkspaceID: ws.ID, Name: "k", Prefix: "bk_drain", Hash: []byte(ws.ID),
		Scopes: []string{api.ScopeAll}, CreatedAt: now}
	if err := st.CreateWorkspace(ctx, ws, key); err != nil {
		b.Fatal(err)
	}
	for range b.N {
		if _, _, err := st.CreateTask(ctx, store.Task{ID: ids.New(ids.Task), WorkspaceID: ws.ID, Queue: api.DefaultQueue,
			Status: api.TaskQueued, Input: json.RawMessage(`{}`), MaxAttempts: 1, CreatedAt: now, RunAt: now}, nil); err != nil {
			b.Fatal(err)
		}
	}
	svc := tasks.New(tasks.Config{Store: st, Limits: func(store.Workspace) api.Limits {
		return api.Limits{MaxConcurrentTasks: 1000, MaxQueuedTasks: 1 << 30, MaxTaskDurationSeconds: 3600,
			MonthlyTaskExecutions: 1 << 40, MonthlyExecutionSeconds: 1 << 40, MonthlySpendMicros: 1 << 50}
	}})
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for {
				got, err := svc.Claim(ctx, ws.ID, []string{api.DefaultQueue}, fmt.Sprintf("w%d", w), 1, 0)
				if err == nil && len(got) == 0 {
					return
				}
				for _, t := range got {
					if _, err = svc.Complete(ctx, ws.ID, t.ID, t.Attempt, json.RawMessage(`{}`), nil); err != nil {
						break
					}
				}
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
}
