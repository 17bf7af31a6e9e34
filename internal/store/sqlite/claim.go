package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
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

// ClaimTasks leases up to p.Max tasks fairly. Workspaces with claimable
// tasks (queued, run_at <= p.Now, in p.Queues; only p.WorkspaceID's unless
// it is store.AnyWorkspace) are served in round-robin order: the one whose
// last claim is oldest first (never served before all), then by id; each
// gives at most p.Slots tasks, given its running count, and at most its
// share of p.Max per pass (p.Max over the workspaces read), its tasks
// picked by priority (high first) then id. All of it runs in one write
// transaction — the next group commit, shared with the claims and
// completions arriving meanwhile (flow.Flows.InBatch): the single writer
// serializes claims, so counts cannot go stale and caps hold, and a burst
// of claims costs one sync to disk. Returns store.ErrNotFound when nothing
// is claimable.
func (s *Store) ClaimTasks(ctx context.Context, p store.ClaimParams) ([]store.Task, error) {
	if len(p.Queues) == 0 {
		return nil, errors.New("claim tasks: no queues")
	}
	queues, err := queueArg(p.Queues)
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	want := max(p.Max, 1)
	var claimed []store.Task
	// In the next group-commit transaction: concurrent claims (and
	// completions) share one commit, one sync to disk, instead of one each.
	err = s.flows.InBatch(ctx, func(ftx flow.Tx) error {
		tx := ftx.(txRows).tx
		claimed = claimed[:0]
		for {
			before := len(claimed)
			after := candidate{seq: -1}
			share := 0
			for len(claimed) < want {
				cands, err := claimCandidates(ctx, tx, p, queues, after)
				if err != nil {
					return err
				}
				if share == 0 {
					share = max(1, (want+len(cands)-1)/max(len(cands), 1))
				}
				for _, c := range cands {
					n := min(share, want-len(claimed))
					if n <= 0 {
						break
					}
					if p.Slots != nil {
						n = min(n, p.Slots(c.ws, c.running, c.used))
					}
					if n <= 0 {
						continue
					}
					got, err := claimFrom(ctx, tx, c.ws.ID, p, queues, n)
					if err != nil {
						return err
					}
					claimed = append(claimed, got...)
				}
				if len(cands) < claimBatch {
					break
				}
				after = cands[len(cands)-1]
			}
			if len(claimed) == before || len(claimed) >= want {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	if len(claimed) == 0 {
		return nil, fmt.Errorf("claim tasks: %w", store.ErrNotFound)
	}
	return claimed, nil
}

// claimCandidates returns the next batch of workspaces with claimable
// tasks after after in round-robin order, with their running counts.
func claimCandidates(ctx context.Context, tx *preparedTx, p store.ClaimParams, queues any, after candidate) ([]candidate, error) {
	q := `SELECT ` + workspaceColumns + `, last_claim_seq,
			` + sqlstore.Count("w.id", "'running'") + `,
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

// claimFrom claims up to n tasks of workspace id (none if it has none
// claimable).
func claimFrom(ctx context.Context, tx *preparedTx, id string, p store.ClaimParams, queues any, n int) ([]store.Task, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = ?1 AND status = 'queued' AND `+queueCond("queue", p.Queues, 2)+`
		  AND run_at <= ?3
		ORDER BY priority DESC, id LIMIT ?4`, id, queues, micros(p.Now), n)
	picked, err := collect(rows, err, scanTaskRow)
	if err != nil || len(picked) == 0 {
		return nil, mapErr(err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE workspaces
		SET last_claim_seq = (SELECT max(last_claim_seq) FROM workspaces) + 1 WHERE id = ?1`, id)
	if err != nil {
		return nil, fmt.Errorf("mark workspace %s served: %w", id, err)
	}
	if err := flow.Claim(ctx, txRows{tx: tx}, picked, p); err != nil {
		return nil, err
	}
	out := make([]store.Task, len(picked))
	for i, r := range picked {
		out[i] = r.Task
	}
	return out, nil
}
