package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

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
					got, err := claimFrom(ctx, tx, c.ws.ID, p.From(len(claimed)), n)
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
	q, args := candidatesQuery(p, queues, after)
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

// candidatesQuery is claimCandidates' statement and arguments.
//
// "Has a claimable task" reads the claim index, named (INDEXED BY): left to
// choose, the planner, which has no statistics, took
// tasks_status_queue_created (status, queue, created_at) for one queue —
// the queue's queued tasks of every workspace, oldest first — and for each
// candidate read the other workspaces' older queued tasks before one of
// its own: in the depth benchmark, with the first workspace's 1 000 tasks
// still queued ahead, the claim cost 2.7× more at 100 000 queued (issue
// #12). tasks_claim starts at the workspace; INDEXED BY also makes a
// schema change that leaves the index unusable an error, not a slow plan.
func candidatesQuery(p store.ClaimParams, queues any, after candidate) (string, []any) {
	q := `SELECT ` + workspaceColumns + `, last_claim_seq,
			` + sqlstore.Count("w.id", "'running'") + `,
			` + usagerows.ConsumedColumns("w.id", "?6") + `
		FROM workspaces w
		WHERE (last_claim_seq, id) > (?1, ?2)
		  AND EXISTS (SELECT 1 FROM tasks t INDEXED BY tasks_claim
		              WHERE t.workspace_id = w.id AND t.status = 'queued'
		              AND ` + queueCond("t.queue", p.Queues, 3) + ` AND t.run_at <= ?4)`
	args := []any{after.seq, after.ws.ID, queues, micros(p.Now), claimBatch, micros(store.UsagePeriod(p.Now))}
	if p.WorkspaceID != store.AnyWorkspace {
		q += ` AND id = ?7`
		args = append(args, p.WorkspaceID)
	}
	q += ` ORDER BY last_claim_seq, id LIMIT ?5`
	return q, args
}

// queueCond is the SQL condition that column is one of queues, whose
// argument (queueArg) is ?n: for one queue, the common case, an equality.
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

// pickQuery is claimFrom's statement and arguments: workspace id's first n
// claimable tasks in pick order (priority, high first, then id).
//
// Each queue's tasks are read from the claim index, in that order, at most
// n of them, and only these few are merged: with several queues, a queue
// IN (...) condition reads the index in a range per queue, not in pick
// order, and the planner chose to read every queued task of the workspace
// (tasks_workspace_status_id) and sort them all, on each claim — a cost
// that grew with the queue's depth. INDEXED BY as in candidatesQuery.
func pickQuery(id string, p store.ClaimParams, n int) (string, []any) {
	queues := slices.Clone(p.Queues)
	slices.Sort(queues)
	queues = slices.Compact(queues) // a queue twice would pick its tasks twice
	args := []any{id, micros(p.Now), n}
	parts := make([]string, len(queues))
	for i, q := range queues {
		args = append(args, q)
		parts[i] = `SELECT ` + taskColumns + ` FROM tasks INDEXED BY tasks_claim
		WHERE workspace_id = ?1 AND status = 'queued' AND queue = ?` + strconv.Itoa(len(args)) + `
		  AND run_at <= ?2
		ORDER BY priority DESC, id LIMIT ?3`
	}
	if len(parts) == 1 {
		return parts[0], args
	}
	for i, part := range parts {
		parts[i] = `SELECT * FROM (` + part + `)`
	}
	return `SELECT ` + taskColumns + ` FROM (` + strings.Join(parts, `
		UNION ALL `) + `)
		ORDER BY priority DESC, id LIMIT ?3`, args
}

// scanFunc adapts a function to scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// claimFrom claims up to n tasks of workspace id (none if it has none
// claimable).
func claimFrom(ctx context.Context, tx *preparedTx, id string, p store.ClaimParams, n int) ([]store.Task, error) {
	q, args := pickQuery(id, p, n)
	rows, err := tx.QueryContext(ctx, q, args...)
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
