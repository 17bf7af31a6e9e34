package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/genericcorp/baton/internal/store"
	"github.com/genericcorp/baton/internal/store/internal/flow"
	"github.com/genericcorp/baton/internal/store/internal/rowcodec"
	"github.com/genericcorp/baton/internal/store/internal/sqlstore"
	"github.com/genericcorp/baton/internal/store/internal/usagerows"
	"github.com/genericcorp/baton/pkg/api"
)

// Rows of tasks, task_attempts and task_events, read and written inside a
// transaction: txRows' flow.Tx methods on tasks. The flows are in the flow
// package, the transitions in the lifecycle package.

const taskColumns = `id, workspace_id, queue, status, priority, input, output, error, labels,
	attempt, max_attempts, timeout_seconds, idempotency_key, request_hash, status_reason,
	run_at, lease_expires_at, worker_id, created_at, started_at, finished_at, attempt_started_at,
	execution_ms, tokens, cost_micros, event_seq, log_bytes, logs_dropped,
	max_cost_micros, parent_id, suspended_attempts, wake_at`

func scanTaskRow(sc scanner) (flow.Row, error) {
	var (
		r                                        flow.Row
		t                                        = &r.Task
		input, output, labels                    []byte
		idem                                     *string
		runAt, createdAt                         time.Time
		lease, started, finished, attemptStarted *time.Time
		wake                                     *time.Time
	)
	err := sc.Scan(&t.ID, &t.WorkspaceID, &t.Queue, &t.Status, &t.Priority, &input, &output, &t.Error, &labels,
		&t.Attempt, &t.MaxAttempts, &t.TimeoutSeconds, &idem, &t.RequestHash, &t.StatusReason,
		&runAt, &lease, &t.WorkerID, &createdAt, &started, &finished, &attemptStarted,
		&t.ExecutionMS, &t.Tokens, &t.CostMicros, &r.Seq, &t.LogBytes, &t.LogsDropped,
		&t.MaxCostMicros, &t.ParentID, &t.SuspendedAttempts, &wake)
	if err != nil {
		return flow.Row{}, err
	}
	if err := rowcodec.DecodeJSON(labels, &t.Labels); err != nil {
		return flow.Row{}, fmt.Errorf("task %s labels: %w", t.ID, err)
	}
	t.Input = input
	if output != nil {
		t.Output = output
	}
	if idem != nil {
		t.IdempotencyKey = *idem
	}
	t.RunAt, t.CreatedAt = runAt.UTC(), createdAt.UTC()
	t.LeaseExpiresAt, t.StartedAt = utcPtr(lease), utcPtr(started)
	t.FinishedAt, t.AttemptStarted = utcPtr(finished), utcPtr(attemptStarted)
	t.WakeAt = utcPtr(wake)
	return r, nil
}

func scanTask(sc scanner) (store.Task, error) {
	r, err := scanTaskRow(sc)
	return r.Task, err
}

// LockTask locks task id of workspaceID for update and returns it, or
// store.ErrNotFound. The lock guards its attempts too.
func (x txRows) LockTask(ctx context.Context, workspaceID, id string) (flow.Row, error) {
	row := x.tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, workspaceID, id)
	r, err := scanTaskRow(row)
	return r, mapErr(err)
}

// LockTasks locks the tasks refs name, in id order (so that concurrent
// batches queue instead of deadlocking), and reads the current attempt of
// each running one: two statements in one round trip. The second runs
// after the first has its locks, with a snapshot of its own, so it reads
// the attempts of the tasks as locked.
func (x txRows) LockTasks(ctx context.Context, refs []flow.TaskRef) ([]flow.Row, []store.Attempt, error) {
	ws, ids := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		ws[i], ids[i] = r.WorkspaceID, r.ID
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT `+taskColumns+` FROM tasks
		WHERE id = ANY($2) AND (workspace_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY id FOR UPDATE`, ws, ids)
	b.Queue(`SELECT `+attemptColumns+` FROM task_attempts
		WHERE (task_id, number) IN (SELECT id, attempt FROM tasks
			WHERE id = ANY($2) AND (workspace_id, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND status = 'running')
			AND task_id = ANY($2)`, ws, ids)
	br := x.tx.SendBatch(ctx, b)
	defer br.Close()
	rows, err := br.Query()
	out, err := collect(rows, err, scanTaskRow)
	if err != nil {
		return nil, nil, fmt.Errorf("lock tasks: %w", mapErr(err))
	}
	rows, err = br.Query()
	attempts, err := collect(rows, err, scanAttempt)
	if err != nil {
		return nil, nil, fmt.Errorf("read attempts: %w", mapErr(err))
	}
	return out, attempts, mapErr(br.Close())
}

// LockExpired locks up to limit running tasks whose lease ended before
// now, the oldest lease first, skipping tasks locked at that moment (a
// heartbeat or completion in flight decides them; another replica's reaper
// may be on them).
func (x txRows) LockExpired(ctx context.Context, now time.Time, limit int) ([]flow.Row, error) {
	rows, err := x.tx.Query(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE status = 'running' AND lease_expires_at < $1
		ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`, ts(now), limit)
	return collect(rows, err, scanTaskRow)
}

// saveTasksStmt is SaveTasks' statement.
func saveTasksStmt(rows []flow.Row) stmt {
	n := len(rows)
	var (
		id, status, errs, reason, worker = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		output                           = make([]*string, n)
		attempt                          = make([]int32, n)
		runAt                            = make([]time.Time, n)
		lease, started, finished, began  = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		ms, tokens, cost, seq            = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		suspended                        = make([]int32, n)
		wake                             = make([]*time.Time, n)
	)
	for i, r := range rows {
		t := r.Task
		id[i], status[i], errs[i], reason[i], worker[i] = t.ID, t.Status, t.Error, t.StatusReason, t.WorkerID
		if t.Output != nil {
			o := string(t.Output)
			output[i] = &o
		}
		attempt[i], runAt[i] = int32(t.Attempt), ts(t.RunAt)
		lease[i], started[i], finished[i], began[i] = tsPtr(t.LeaseExpiresAt), tsPtr(t.StartedAt), tsPtr(t.FinishedAt), tsPtr(t.AttemptStarted)
		ms[i], tokens[i], cost[i], seq[i] = t.ExecutionMS, t.Tokens, t.CostMicros, r.Seq
		suspended[i], wake[i] = int32(t.SuspendedAttempts), tsPtr(t.WakeAt)
	}
	return stmt{sql: `UPDATE tasks AS t SET status = u.status, output = u.output::json, error = u.error,
		status_reason = u.reason, attempt = u.attempt, run_at = u.run_at, lease_expires_at = u.lease,
		worker_id = u.worker, started_at = u.started, finished_at = u.finished, attempt_started_at = u.began,
		execution_ms = u.ms, tokens = u.tokens, cost_micros = u.cost, event_seq = u.seq,
		suspended_attempts = u.suspended, wake_at = u.wake
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[],
			$8::timestamptz[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[],
			$13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $17::int[], $18::timestamptz[])
			AS u(id, status, output, error, reason, attempt, run_at, lease, worker, started, finished, began, ms, tokens, cost, seq, suspended, wake)
		WHERE t.id = u.id AND t.id = ANY($1)`,
		args: []any{id, status, output, errs, reason, attempt, runAt, lease, worker, started, finished, began, ms, tokens, cost, seq, suspended, wake}}
}

// InsertTask inserts the new task t with event seq 1, or reports that its
// idempotency key is taken. Concurrent creates with one key make one task:
// the unique index decides, and the loser reads the winner's row (see
// TaskByIdempotencyKey). The foreign key share-locks the workspace, so a
// concurrent DeleteWorkspace waits for this transaction (or it for that
// one).
func (x txRows) InsertTask(ctx context.Context, t store.Task) (flow.Row, bool, error) {
	r, inserted, _, _, err := x.insertTask(ctx, t, false)
	return r, inserted, err
}

// InsertCounted locks the workspace (lockWorkspaceSQL) and
// inserts t, reading in the insert's statement the workspace's queued
// count and use of the period holding t.CreatedAt as they were before the
// insert: two statements in one round trip. The insert starts after the
// lock is had, so its snapshot sees every create committed by the lock's
// previous holders.
func (x txRows) InsertCounted(ctx context.Context, t store.Task) (flow.Row, bool, int, store.Consumed, error) {
	return x.insertTask(ctx, t, true)
}

// lockWorkspaceSQL locks the workspace row FOR NO KEY UPDATE: creates of
// one workspace take turns; the foreign-key share locks of other writers
// are not blocked.
const lockWorkspaceSQL = `SELECT 1 FROM workspaces WHERE id = $1 FOR NO KEY UPDATE`

// LockCounted locks workspace id and then reads its admission counts
// (AdmissionCounts' statement, with a snapshot taken after the lock): two
// statements in one round trip.
func (x txRows) LockCounted(ctx context.Context, id string, at time.Time) (int, store.Consumed, error) {
	var (
		n    int
		used store.Consumed
	)
	b := &pgx.Batch{}
	b.Queue(lockWorkspaceSQL, id)
	b.Queue(admissionCountsSQL, id, ts(store.UsagePeriod(at)))
	br := x.tx.SendBatch(ctx, b)
	defer br.Close()
	var one int
	if err := br.QueryRow().Scan(&one); err != nil {
		return 0, used, mapErr(err)
	}
	if err := br.QueryRow().Scan(&n, &used.Executions, &used.ExecutionMS, &used.CostMicros); err != nil {
		return 0, used, mapErr(err)
	}
	return n, used, mapErr(br.Close())
}

// admissionCountsSQL reads workspace $1's queued count and its use of
// period $2.
var admissionCountsSQL = `SELECT ` + sqlstore.Count("$1", "'queued'") + `, ` + usagerows.ConsumedColumns("$1", "$2")

// AdmissionCounts reads workspace id's queued count and its use of the
// period holding at (the step flows' spend check; creates use LockCounted).
func (x txRows) AdmissionCounts(ctx context.Context, id string, at time.Time) (int, store.Consumed, error) {
	var (
		n    int
		used store.Consumed
	)
	err := x.tx.QueryRow(ctx, admissionCountsSQL,
		id, ts(store.UsagePeriod(at))).Scan(&n, &used.Executions, &used.ExecutionMS, &used.CostMicros)
	return n, used, mapErr(err)
}

func (x txRows) insertTask(ctx context.Context, t store.Task, counted bool) (flow.Row, bool, int, store.Consumed, error) {
	var (
		queued int
		used   store.Consumed
	)
	labels, err := rowcodec.EncodeJSON(t.Labels, len(t.Labels), "{}")
	if err != nil {
		return flow.Row{}, false, 0, used, err
	}
	final, args := `SELECT `+taskColumns+` FROM t`, []any{}
	if counted {
		// Subqueries of the statement's snapshot: the new task's trigger
		// has not counted it yet.
		final = `SELECT ` + taskColumns + `, ` + sqlstore.Count("$2", "'queued'") + `, ` +
			usagerows.ConsumedColumns("$2", "$17") + ` FROM t`
		args = append(args, ts(store.UsagePeriod(t.CreatedAt)))
	}
	// One statement: the event is written from the inserted row, so a
	// create whose key is taken writes none.
	insert := `WITH t AS (INSERT INTO tasks (id, workspace_id, queue, status, priority, input,
		labels, max_attempts, timeout_seconds, idempotency_key, request_hash, status_reason,
		run_at, created_at, event_seq, max_cost_micros, parent_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $16)
		ON CONFLICT (workspace_id, idempotency_key) DO NOTHING
		RETURNING *),
	e AS (INSERT INTO task_events (` + eventColumns + `)
		SELECT id, 1, workspace_id, '` + api.EventState + `', status, 0, status_reason, created_at FROM t)
	` + final
	args = append([]any{t.ID, t.WorkspaceID, t.Queue, t.Status, t.Priority, string(t.Input),
		labels, t.MaxAttempts, t.TimeoutSeconds, rowcodec.NullText(t.IdempotencyKey), rowcodec.NullBytes(t.RequestHash), t.StatusReason,
		ts(t.RunAt), ts(t.CreatedAt), t.MaxCostMicros, t.ParentID}, args...)
	var row pgx.Row
	if counted {
		// After the workspace's lock, in one batch.
		b := &pgx.Batch{}
		b.Queue(lockWorkspaceSQL, t.WorkspaceID)
		b.Queue(insert, args...)
		br := x.tx.SendBatch(ctx, b)
		defer br.Close()
		var one int
		if err := br.QueryRow().Scan(&one); err != nil {
			return flow.Row{}, false, 0, used, mapErr(err)
		}
		row = br.QueryRow()
	} else {
		row = x.tx.QueryRow(ctx, insert, args...)
	}
	r, err := scanTaskRow(scanFunc(func(dest ...any) error {
		if counted {
			dest = append(dest, &queued, &used.Executions, &used.ExecutionMS, &used.CostMicros)
		}
		return row.Scan(dest...)
	}))
	if errors.Is(err, pgx.ErrNoRows) {
		return flow.Row{}, false, 0, used, nil
	}
	if err != nil {
		return flow.Row{}, false, 0, used, mapErr(err)
	}
	return r, true, queued, used, nil
}

// TaskByIdempotencyKey returns workspaceID's task with key. After
// InsertTask found the key taken, ON CONFLICT has waited for the other
// insert to commit, and this statement's snapshot sees it.
func (x txRows) TaskByIdempotencyKey(ctx context.Context, workspaceID, key string) (store.Task, error) {
	row := x.tx.QueryRow(ctx, `SELECT `+taskColumns+` FROM tasks
		WHERE workspace_id = $1 AND idempotency_key = $2`, workspaceID, key)
	t, err := scanTask(row)
	return t, mapErr(err)
}

const eventColumns = `task_id, seq, workspace_id, type, status, attempt, message, at`

func scanEvent(sc scanner) (store.TaskEvent, error) {
	var (
		e  store.TaskEvent
		at time.Time
	)
	if err := sc.Scan(&e.TaskID, &e.Seq, &e.WorkspaceID, &e.Type, &e.Status, &e.Attempt, &e.Message, &at); err != nil {
		return store.TaskEvent{}, err
	}
	e.At = at.UTC()
	flow.FromStatusColumn(&e)
	return e, nil
}

// insertEventsStmt is InsertEvents' statement.
func insertEventsStmt(events []store.TaskEvent) stmt {
	n := len(events)
	var (
		task, ws, typ, status, msg = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seq                        = make([]int64, n)
		attempt                    = make([]int32, n)
		at                         = make([]time.Time, n)
	)
	for i, e := range events {
		task[i], seq[i], ws[i], typ[i], status[i], attempt[i], msg[i], at[i] = e.TaskID, e.Seq, e.WorkspaceID, e.Type, flow.StatusColumn(e), int32(e.Attempt), e.Message, ts(e.At)
	}
	return stmt{sql: `INSERT INTO task_events (` + eventColumns + `)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[])`,
		args: []any{task, seq, ws, typ, status, attempt, msg, at}}
}

// AppendLogs inserts lines as events of kind k after r.Seq and advances
// the task's event seq past them, counting their bytes and the dropped
// lines. A stream's channel goes in the status column (flow.StatusColumn).
func (x txRows) AppendLogs(ctx context.Context, r flow.Row, k flow.LineKind, attempt int, lines []string, addBytes, addDropped int64, at time.Time) error {
	t := r.Task
	if _, err := x.tx.Exec(ctx, `UPDATE tasks SET event_seq = $2, log_bytes = log_bytes + $3, logs_dropped = logs_dropped + $4
		WHERE id = $1`, t.ID, r.Seq+int64(len(lines)), addBytes, addDropped); err != nil {
		return fmt.Errorf("update task: %w", err)
	}
	if len(lines) == 0 {
		return nil
	}
	_, err := x.tx.Exec(ctx, `INSERT INTO task_events (`+eventColumns+`)
		SELECT $1, $2 + l.n, $3, $4, $8, $5, l.line, $6
		FROM unnest($7::text[]) WITH ORDINALITY AS l(line, n)`,
		t.ID, r.Seq, t.WorkspaceID, k.Type, attempt, ts(at), lines, k.Channel)
	if err != nil {
		return fmt.Errorf("insert log events: %w", err)
	}
	return nil
}

const attemptColumns = `task_id, number, worker_id, status, error, started_at, finished_at,
	heartbeat_at, execution_ms, tokens, cost_micros`

func scanAttempt(sc scanner) (store.Attempt, error) {
	var (
		a                      store.Attempt
		startedAt, heartbeatAt time.Time
		finishedAt             *time.Time
	)
	err := sc.Scan(&a.TaskID, &a.Number, &a.WorkerID, &a.Status, &a.Error, &startedAt, &finishedAt,
		&heartbeatAt, &a.ExecutionMS, &a.Tokens, &a.CostMicros)
	if err != nil {
		return store.Attempt{}, err
	}
	a.StartedAt, a.HeartbeatAt, a.FinishedAt = startedAt.UTC(), heartbeatAt.UTC(), utcPtr(finishedAt)
	return a, nil
}

// Attempts reads the attempts refs name in one statement; the caller
// holds their tasks' row locks, which guard the attempts too.
func (x txRows) Attempts(ctx context.Context, refs []flow.AttemptRef) ([]store.Attempt, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	ids, numbers := make([]string, len(refs)), make([]int32, len(refs))
	for i, r := range refs {
		ids[i], numbers[i] = r.TaskID, int32(r.Number)
	}
	rows, err := x.tx.Query(ctx, `SELECT `+attemptColumns+` FROM task_attempts
		WHERE task_id = ANY($1) AND (task_id, number) IN (SELECT * FROM unnest($1::text[], $2::int[]))`, ids, numbers)
	out, err := collect(rows, err, scanAttempt)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", mapErr(err))
	}
	return out, nil
}

// insertAttemptsStmt is InsertAttempts' statement.
func insertAttemptsStmt(workspaceID string, attempts []store.Attempt) stmt {
	n := len(attempts)
	var (
		task, worker, status, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		number                     = make([]int32, n)
		started, heartbeat         = make([]time.Time, n), make([]time.Time, n)
		finished                   = make([]*time.Time, n)
		ms, tokens, cost           = make([]int64, n), make([]int64, n), make([]int64, n)
	)
	for i, a := range attempts {
		task[i], number[i], worker[i], status[i], errs[i] = a.TaskID, int32(a.Number), a.WorkerID, a.Status, a.Error
		started[i], finished[i], heartbeat[i] = ts(a.StartedAt), tsPtr(a.FinishedAt), ts(a.HeartbeatAt)
		ms[i], tokens[i], cost[i] = a.ExecutionMS, a.Tokens, a.CostMicros
	}
	return stmt{sql: `INSERT INTO task_attempts (` + attemptColumns + `, workspace_id)
		SELECT *, $12 FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
			$7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::bigint[], $11::bigint[])`,
		args: []any{task, number, worker, status, errs, started, finished, heartbeat, ms, tokens, cost, workspaceID}}
}

// saveAttemptsStmt is SaveAttempts' statement.
func saveAttemptsStmt(attempts []store.Attempt) stmt {
	n := len(attempts)
	var (
		task, status, errs = make([]string, n), make([]string, n), make([]string, n)
		number             = make([]int32, n)
		finished           = make([]*time.Time, n)
		heartbeat          = make([]time.Time, n)
		ms, tokens, cost   = make([]int64, n), make([]int64, n), make([]int64, n)
	)
	for i, a := range attempts {
		task[i], number[i], status[i], errs[i] = a.TaskID, int32(a.Number), a.Status, a.Error
		finished[i], heartbeat[i] = tsPtr(a.FinishedAt), ts(a.HeartbeatAt)
		ms[i], tokens[i], cost[i] = a.ExecutionMS, a.Tokens, a.CostMicros
	}
	return stmt{sql: `UPDATE task_attempts AS a SET status = u.status, error = u.error,
		finished_at = u.finished, heartbeat_at = u.heartbeat, execution_ms = u.ms, tokens = u.tokens, cost_micros = u.cost
		FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
			$7::bigint[], $8::bigint[], $9::bigint[])
			AS u(task_id, number, status, error, finished, heartbeat, ms, tokens, cost)
		WHERE a.task_id = u.task_id AND a.number = u.number AND a.task_id = ANY($1)`,
		args: []any{task, number, status, errs, finished, heartbeat, ms, tokens, cost}}
}

// SaveTasks writes every mutable column of each r.Task (locked by the
// caller) and sets its event seq to r.Seq: one UPDATE over unnest'ed
// columns, however many rows.
func (x txRows) SaveTasks(ctx context.Context, rows []flow.Row) error {
	return x.exec(ctx, "update tasks", saveTasksStmt(rows))
}

// InsertAttempts inserts attempts of tasks of workspaceID in one statement.
func (x txRows) InsertAttempts(ctx context.Context, workspaceID string, attempts []store.Attempt) error {
	return x.exec(ctx, "insert attempts", insertAttemptsStmt(workspaceID, attempts))
}

// SaveAttempts writes every mutable column of each attempt in one UPDATE.
func (x txRows) SaveAttempts(ctx context.Context, attempts []store.Attempt) error {
	return x.exec(ctx, "update attempts", saveAttemptsStmt(attempts))
}

// InsertEvents inserts events in one statement.
func (x txRows) InsertEvents(ctx context.Context, events []store.TaskEvent) error {
	return x.exec(ctx, "insert events", insertEventsStmt(events))
}
