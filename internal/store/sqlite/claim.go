package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
)

// claimBatch is how many candidate workspaces one query reads.
const claimBatch = 32

// candidate is a workspace with claimable tasks.
type candidate struct {
	ws      store.Workspace
	seq     int64 // last_claim_seq
	running int
	used    store.Consumed
}

// ClaimTask leases the next task fairly. Workspaces with claimable tasks
// (queued, run_at <= p.Now, in p.Queues; only p.WorkspaceID's unless it is
// store.AnyWorkspace) are tried in round-robin order: the one whose last
// claim is oldest first (never served before all), then by id; the first
// that p.Eligible accepts, given its running count, is served, its task
// picked by priority (high first) then id. All of it is one write
// transaction: the single writer serializes claims, so counts cannot go
// stale and caps hold. Returns store.ErrNotFound when nothing is claimable.
func (s *Store) ClaimTask(ctx context.Context, p store.ClaimParams) (store.Task, error) {
	if len(p.Queues) == 0 {
		return store.Task{}, errors.New("claim task: no queues")
	}
	queues, err := queueArg(p.Queues)
	if err != nil {
		return store.Task{}, fmt.Errorf("claim task: %w", err)
	}
	var claimed store.Task
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		after := candidate{seq: -1}
		for {
			cands, err := claimCandidates(ctx, tx, p, queues, after)
			if err != nil {
				return err
			}
			for _, c := range cands {
				if p.Eligible != nil && !p.Eligible(c.ws, c.running, c.used) {
					continue
				}
				claimed, err = claimFrom(ctx, tx, c.ws.ID, p, queues)
				if !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			if len(cands) < claimBatch {
				return store.ErrNotFound
			}
			after = cands[len(cands)-1]
		}
	})
	if err != nil {
		return store.Task{}, fmt.Errorf("claim task: %w", err)
	}
	return claimed, nil
}

// claimCandidates returns the next batch of workspaces with claimable
// tasks after after in round-robin order, with their running counts.
func claimCandidates(ctx context.Context, tx *sql.Tx, p store.ClaimParams, queues any, after candidate) ([]candidate, error) {
	q := `SELECT ` + workspaceColumns + `, last_claim_seq,
			(SELECT count(*) FROM tasks r WHERE r.workspace_id = w.id AND r.status = 'running'),
			` + usagerows.ConsumedColumns("w.id", "?6") + `
		FROM workspaces w
		WHERE (last_claim_seq, id) > (?1, ?2)
		  AND EXISTS (SELECT 1 FROM tasks t WHERE t.workspace_id = w.id AND t.status = 'queued'
		              AND ` + queueCond("t.queue", p.Queues, 3) + ` AND t.run_at <= ?4)`
	args := []any{after.seq, after.ws.ID, queues, micros(p.Now), claimBatch, micros(store.UsagePeriod(p.Now))}
	if p.WorkspaceID != store.AnyWorkspace {
		q += ` AND id = ?7`
		args = append(args, p.WorkspaceID)
	}
	q += ` ORDER BY last_claim_seq, id LIMIT ?5`
	rows, err := tx.QueryContext(ctx, q, args...)
	cands, err := collect(rows, err, func(sc scanner) (candidate, error) {
		var c candidate
		ws, err := scanWorkspace(scanFunc(func(dest ...any) error {
			return sc.Scan(append(dest, &c.seq, &c.running, &c.used.Executions, &c.used.ExecutionMS, &c.used.CostMicros)...)
		}))
		c.ws = ws
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("find workspaces to serve: %w", err)
	}
	return cands, nil
}

// queueCond is the SQL condition that column is one of queues, whose
// argument (queueArg) is ?n. One queue, the common case, is an equality, so
// that the claim index yields tasks in pick order without a sort.
func queueCond(column string, queues []string, n int) string {
	if len(queues) == 1 {
		return fmt.Sprintf("%s = ?%d", column, n)
	}
	return fmt.Sprintf("%s IN (SELECT value FROM json_each(?%d))", column, n)
}

// queueArg is the argument of queueCond: the queue, or a JSON array of them.
func queueArg(queues []string) (any, error) {
	if len(queues) == 1 {
		return queues[0], nil
	}
	b, err := json.Marshal(queues)
	return string(b), err
}

// scanFunc adapts a function to scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// claimFrom claims the next task of workspace id, or returns
// store.ErrNotFound if it has none claimable.
func claimFrom(ctx context.Context, tx *sql.Tx, id string, p store.ClaimParams, queues any) (store.Task, error) {
	row := tx.QueryRowContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = ?1 AND status = 'queued' AND `+queueCond("queue", p.Queues, 2)+`
		  AND run_at <= ?3
		ORDER BY priority DESC, id LIMIT 1`, id, queues, micros(p.Now))
	r, err := scanTaskRow(row)
	if err != nil {
		return store.Task{}, mapErr(err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE workspaces
		SET last_claim_seq = (SELECT max(last_claim_seq) FROM workspaces) + 1 WHERE id = ?1`, id)
	if err != nil {
		return store.Task{}, fmt.Errorf("mark workspace %s served: %w", id, err)
	}
	if err := flow.Claim(ctx, txRows{tx}, &r, p); err != nil {
		return store.Task{}, err
	}
	return r.Task, nil
}
