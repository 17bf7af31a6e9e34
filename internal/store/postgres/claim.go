package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
)

// claimBatch is how many candidate workspaces one query reads.
const claimBatch = 32

// Outcomes of trying one workspace.
var (
	errWorkspaceBusy = errors.New("workspace locked by another transaction")
	errNothingHere   = errors.New("workspace not eligible or nothing claimable")
)

// candidate is a workspace with claimable tasks, as first read.
type candidate struct {
	ws      store.Workspace
	seq     int64 // claim_locks.seq, the served stamp
	running int
	used    store.Consumed
}

// ClaimTasks leases up to p.Max tasks fairly. Workspaces with claimable
// tasks (queued, run_at <= p.Now, in p.Queues; only p.WorkspaceID's unless
// it is store.AnyWorkspace) are tried in round-robin order: the one whose
// last shared claim is oldest first (never served before all), then by id; each
// gives at most its share of p.Max per pass (p.Max over the workspaces
// read), so one busy tenant does not take a whole batch while others wait.
// Each try is its own READ COMMITTED transaction holding the workspace's
// claim lock, its row of claim_locks (see claimFrom and migration 00011;
// submits lock the workspace's own row, for the queued cap, so the two do
// not wait for each other): one statement locks it and picks up to n
// of its tasks, p.Slots keeps what the workspace may start, and one
// composite statement writes the claim (flow.Claim: attempts, usage and
// rollups, tasks, events, and the claim's stamp) — four round
// trips, BEGIN and COMMIT included, whatever n. Holding one workspace lock
// at a time, claims never deadlock, and since claims of one workspace take
// turns on their row, they cannot exceed a cap. A claim of one workspace
// (not store.AnyWorkspace) is that transaction alone (claimWorkspace).
//
// A first pass skips workspaces locked by another claim (SKIP LOCKED) so
// concurrent shared workers spread out; if that claims nothing, a second
// pass waits for each skipped workspace that still has a claimable task no
// claim holds, so a claim never misses a task merely because of contention
// — and a herd of idle claimers woken by one submit does not queue up on
// the workspace's lock for the task the first of them took. p.Slots is also called once per
// candidate without the lock, as a pre-check on a count read with the
// candidates: a workspace failing it is skipped without a transaction.
//
// Returns store.ErrNotFound when nothing is claimable.
func (s *Store) ClaimTasks(ctx context.Context, p store.ClaimParams) ([]store.Task, error) {
	if len(p.Queues) == 0 {
		return nil, errors.New("claim tasks: no queues")
	}
	want := max(p.Max, 1)
	if p.WorkspaceID != store.AnyWorkspace {
		return s.claimWorkspace(ctx, p, want)
	}
	var (
		out  []store.Task
		busy []string
	)
	for pass := 0; len(out) < want; pass++ {
		before := len(out)
		after := candidate{seq: -1}
		share := 0
		for len(out) < want {
			cands, err := s.claimCandidates(ctx, p, after)
			if err != nil {
				return out, fmt.Errorf("claim tasks: %w", err)
			}
			if share == 0 {
				share = max(1, (want+len(cands)-1)/max(len(cands), 1))
			}
			for _, c := range cands {
				n := min(share, want-len(out))
				if n <= 0 {
					break
				}
				if p.Slots != nil && p.Slots(c.ws, c.running, c.used) <= 0 {
					continue
				}
				got, err := s.claimFrom(ctx, c.ws.ID, p.From(len(out)), n, true)
				switch {
				case err == nil:
					out = append(out, got...)
				case errors.Is(err, errWorkspaceBusy):
					if pass == 0 {
						busy = append(busy, c.ws.ID)
					}
				case !errors.Is(err, errNothingHere):
					return out, fmt.Errorf("claim tasks: %w", err)
				}
			}
			if len(cands) < claimBatch {
				break
			}
			after = cands[len(cands)-1]
		}
		if len(out) == before {
			break // a pass that claims nothing: the rest is not claimable
		}
	}
	if len(out) == 0 {
		for _, id := range busy {
			// Wait for a busy workspace only if it has a claimable task
			// that no claim holds: idle claimers woken by one submit do
			// not queue up on the workspace's lock (and submits behind
			// them) for a task another claim already took.
			if ok, err := s.unheldTask(ctx, id, p); err != nil {
				return nil, fmt.Errorf("claim tasks: %w", err)
			} else if !ok {
				continue
			}
			got, err := s.claimFrom(ctx, id, p, want, false)
			if err == nil {
				out = got
				break
			}
			if !errors.Is(err, errNothingHere) {
				return nil, fmt.Errorf("claim tasks: %w", err)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("claim tasks: %w", store.ErrNotFound)
	}
	return out, nil
}

// claimWorkspace is ClaimTasks of one workspace (p.WorkspaceID), whose
// fairness is between nobody: no candidates query and no second pass, just
// the claim transaction — the round trips of a workspace worker's claim.
// If another claim holds the workspace, it waits for the lock only when a
// claimable task is left that no claim holds (see ClaimTasks).
func (s *Store) claimWorkspace(ctx context.Context, p store.ClaimParams, want int) ([]store.Task, error) {
	got, err := s.claimFrom(ctx, p.WorkspaceID, p, want, true)
	if errors.Is(err, errWorkspaceBusy) {
		var ok bool
		if ok, err = s.unheldTask(ctx, p.WorkspaceID, p); err == nil {
			err = errNothingHere
			if ok {
				got, err = s.claimFrom(ctx, p.WorkspaceID, p, want, false)
			}
		}
	}
	switch {
	case err == nil:
		return got, nil
	case errors.Is(err, errNothingHere):
		return nil, fmt.Errorf("claim tasks: %w", store.ErrNotFound)
	default:
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
}

// unheldTask reports whether workspace id has a claimable task that no
// transaction holds: one statement outside a transaction, whose row lock
// (SKIP LOCKED skips the tasks a claim in flight has picked) ends with it.
func (s *Store) unheldTask(ctx context.Context, id string, p store.ClaimParams) (bool, error) {
	var one int
	err := s.queryRow(ctx, unheldTaskSQL(p.Queues), id, queueArg(p.Queues), ts(p.Now)).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, mapErr(err)
}

// unheldTaskSQL is unheldTask's statement, ordered as the claim index for
// the reason candidatesQuery's subquery is.
func unheldTaskSQL(queues []string) string {
	return `SELECT 1 FROM tasks
		WHERE workspace_id = $1 AND status = 'queued' AND ` + queueCond("queue", queues, 2) + ` AND run_at <= $3
		ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED`
}

// claimCandidates returns the next batch of workspaces with claimable
// tasks after after in round-robin order, with their running counts.
//
// "Has a claimable task" is a scalar subquery ordered as the claim index
// (tasks_claim), not an EXISTS: PostgreSQL drops an EXISTS's ORDER BY and
// LIMIT, and with a deep queue it then estimates that a sequential scan
// finds a queued row at once — which, with other workspaces' finished
// tasks ahead in the heap, read them all on every claim (0.6 → 5.5 ms at
// 100 000 queued; the claim rate fell 7× in the deep-queue benchmark). The
// ORDER BY with LIMIT 1 makes the index the only cheap plan.
func (s *Store) claimCandidates(ctx context.Context, p store.ClaimParams, after candidate) ([]candidate, error) {
	q, args := candidatesQuery(p, after)
	rows, err := s.query(ctx, q, args...)
	return collect(rows, err, func(sc scanner) (candidate, error) {
		var c candidate
		ws, err := scanWorkspace(scanFunc(func(dest ...any) error {
			return sc.Scan(append(dest, &c.seq, &c.running, &c.used.Executions, &c.used.ExecutionMS, &c.used.CostMicros)...)
		}))
		c.ws = ws
		return c, err
	})
}

// queueCond is the SQL condition that column is one of queues, whose
// argument (queueArg) is $n. One queue, the common case, is an equality, so
// that the claim index yields tasks in pick order without a sort.
func queueCond(column string, queues []string, n int) string {
	if len(queues) == 1 {
		return fmt.Sprintf("%s = $%d", column, n)
	}
	return fmt.Sprintf("%s = ANY($%d)", column, n)
}

func queueArg(queues []string) any {
	if len(queues) == 1 {
		return queues[0]
	}
	return queues
}

// candidatesQuery is claimCandidates' statement and arguments.
func candidatesQuery(p store.ClaimParams, after candidate) (string, []any) {
	q := `SELECT ` + workspaceColumnsOfW + `, c.seq,
			` + sqlstore.Count("w.id", "'running'") + `,
			` + usagerows.ConsumedColumns("w.id", "$6") + `
		FROM claim_locks c JOIN workspaces w ON w.id = c.workspace_id
		WHERE (c.seq, c.workspace_id) > ($1, $2)
		  AND (SELECT t.id FROM tasks t WHERE t.workspace_id = w.id AND t.status = 'queued'
		              AND ` + queueCond("t.queue", p.Queues, 3) + ` AND t.run_at <= $4
		       ORDER BY t.priority DESC, t.id LIMIT 1) IS NOT NULL`
	args := []any{after.seq, after.ws.ID, queueArg(p.Queues), ts(p.Now), claimBatch, ts(store.UsagePeriod(p.Now))}
	if p.WorkspaceID != store.AnyWorkspace {
		q += ` AND c.workspace_id = $7`
		args = append(args, p.WorkspaceID)
	}
	q += ` ORDER BY c.seq, c.workspace_id LIMIT $5`
	return q, args
}

// scanFunc adapts a function to scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// claimFrom claims up to n tasks of workspace id in one transaction.
// Returns errWorkspaceBusy if skipLocked and the workspace's claim lock is
// held (or the workspace is gone), errNothingHere if the workspace is not eligible or has no
// claimable task left.
//
// The transaction is two round trips whatever n (pipeTx: BEGIN goes with
// the pick, the write with COMMIT): one statement takes the claim lock and picks the tasks with the
// workspace's running count and usage (pickSQL), one writes the claim
// (flow.Claim, with the claim's stamp in claim_locks). The counts are read
// with the statement's snapshot, taken before the lock: should a claim
// have committed in between, they would miss it, and two claims could pass
// a cap together. Every claim stamps its claim_locks row, so a claim in
// between shows as a newer row version under the lock than in the
// snapshot (their xmin differ); then the counts are read again in a new
// statement, whose snapshot sees it. Completions, which do not take the
// claim lock, only lower the running count, and their usage is as late
// for a claim as it ever was.
func (s *Store) claimFrom(ctx context.Context, id string, p store.ClaimParams, n int, skipLocked bool) ([]store.Task, error) {
	var claimed []store.Task
	err := s.withTx(ctx, func(tx *pipeTx) error {
		rows, err := tx.Query(ctx, pickSQL(p.Queues, skipLocked),
			id, queueArg(p.Queues), ts(p.Now), n, ts(store.UsagePeriod(p.Now)))
		if err != nil {
			return fmt.Errorf("pick tasks: %w", err)
		}
		var (
			ws                   store.Workspace
			lockedXmin, snapXmin string
			running              int
			used                 store.Consumed
			picked               []flow.Row
			held                 bool
		)
		for rows.Next() {
			held = true
			noTask := rows.RawValues()[workspaceColumnCount] == nil // the LEFT JOIN's row without a task
			var r flow.Row
			w, err := scanWorkspace(scanFunc(func(wdest ...any) error {
				extras := []any{&lockedXmin, &snapXmin, &running, &used.Executions, &used.ExecutionMS, &used.CostMicros}
				if noTask {
					return rows.Scan(append(append(wdest, make([]any, taskColumnCount)...), extras...)...)
				}
				var err error
				r, err = scanTaskRow(scanFunc(func(tdest ...any) error {
					return rows.Scan(append(append(wdest, tdest...), extras...)...)
				}))
				return err
			}))
			if err != nil {
				rows.Close()
				return fmt.Errorf("pick tasks: %w", err)
			}
			ws = w
			if !noTask {
				picked = append(picked, r)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("pick tasks: %w", mapErr(err))
		}
		switch {
		case !held && skipLocked:
			return errWorkspaceBusy
		case len(picked) == 0:
			return errNothingHere // nothing claimable, or deleted meanwhile
		}
		if lockedXmin != snapXmin {
			// A claim committed between the snapshot and the lock.
			err := tx.QueryRow(ctx, `SELECT `+sqlstore.Count("$1", "'running'")+`, `+usagerows.ConsumedColumns("$1", "$2"),
				id, ts(store.UsagePeriod(p.Now))).Scan(&running, &used.Executions, &used.ExecutionMS, &used.CostMicros)
			if err != nil {
				return fmt.Errorf("count running tasks: %w", err)
			}
		}
		if p.Slots != nil {
			picked = picked[:max(0, min(len(picked), p.Slots(ws, running, used)))]
		}
		if len(picked) == 0 {
			return errNothingHere
		}
		// The workspace is stamped served in the claim's write.
		stamp := part{"w_served", stmt{sql: `UPDATE claim_locks SET claims = claims + 1
			WHERE workspace_id = $1`, args: []any{id}}}
		if p.WorkspaceID == store.AnyWorkspace {
			// A shared claim moves the workspace back in the shared
			// workers' round robin; a workspace worker's leaves the
			// indexed seq alone, so its update stays HOT (migration 00011).
			stamp.sql = `UPDATE claim_locks SET seq = nextval('workspace_claim_seq'), claims = claims + 1
			WHERE workspace_id = $1`
		}
		if err := flow.Claim(ctx, txRows{tx: tx, also: []part{stamp}}, picked, p); err != nil {
			return err
		}
		claimed = make([]store.Task, len(picked))
		for i, r := range picked {
			claimed[i] = r.Task
		}
		return nil
	})
	return claimed, err
}

// pickSQL is claimFrom's first statement: it locks workspace $1's claim
// lock (its claim_locks row; SKIP LOCKED if skipLocked) and reads the
// workspace, then — the lock is the picked CTE's InitPlan, so
// it is taken before any task is read — picks up to $4 of its claimable
// tasks by priority (high first) then id, FOR UPDATE SKIP LOCKED, and
// returns with each the workspace, the xmin of the claim lock's locked and
// of its snapshot version, its running count and its usage in period $5.
// No row: the lock was not had; one row without a task (NULLs): the lock
// was had, and nothing is claimable.
func pickSQL(queues []string, skipLocked bool) string {
	lock := `FOR UPDATE OF c`
	if skipLocked {
		lock += ` SKIP LOCKED`
	}
	return `WITH w AS MATERIALIZED (
			SELECT ` + workspaceColumnsOfW + `, c.xmin::text AS locked_xmin
			FROM claim_locks c JOIN workspaces w ON w.id = c.workspace_id WHERE c.workspace_id = $1 ` + lock + `),
		picked AS MATERIALIZED (
			SELECT ` + taskColumns + ` FROM tasks
			WHERE workspace_id = (SELECT id FROM w) AND status = 'queued' AND ` + queueCond("queue", queues, 2) + ` AND run_at <= $3
			ORDER BY priority DESC, id LIMIT $4 FOR UPDATE SKIP LOCKED)
		SELECT ` + workspaceColumnsOfW + `, picked.*, w.locked_xmin,
			(SELECT xmin::text FROM claim_locks WHERE workspace_id = $1),
			` + sqlstore.Count("$1", "'running'") + `, ` + usagerows.ConsumedColumns("$1", "$5") + `
		FROM w LEFT JOIN picked ON true
		ORDER BY picked.priority DESC, picked.id`
}

// qualified is the column list cols with each column qualified by alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// workspaceColumnCount and taskColumnCount are how many columns
// workspaceColumns and taskColumns name; workspaceColumnsOfW is
// workspaceColumns qualified by w (made once, not on every claim).
var (
	workspaceColumnsOfW  = qualified("w", workspaceColumns)
	workspaceColumnCount = strings.Count(workspaceColumns, ",") + 1
	taskColumnCount      = strings.Count(taskColumns, ",") + 1
)
