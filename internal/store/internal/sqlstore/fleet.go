package sqlstore

import (
	"time"

	"github.com/genericcorp/baton/internal/store"
)

// SeenWorker upserts a worker row: (workspace_id, id, host, version, queues
// as a JSON text, concurrency, last_seen_at) are $1…$7; ph maps a number to
// the dialect's placeholder.
func SeenWorker(ph func(n int) string, queues string) string {
	return `INSERT INTO workers (workspace_id, id, host, version, queues, concurrency, last_seen_at)
		VALUES (` + ph(1) + `, ` + ph(2) + `, ` + ph(3) + `, ` + ph(4) + `, ` + queues + `, ` + ph(6) + `, ` + ph(7) + `)
		ON CONFLICT (workspace_id, id) DO UPDATE SET host = excluded.host, version = excluded.version,
			queues = excluded.queues, concurrency = excluded.concurrency, last_seen_at = excluded.last_seen_at`
}

// ListWorkers selects the workers seen at or after ph(1), of workspace
// ph(2) (every worker when it is '*'), with the tasks leased to each now:
// a workspace's worker holds only that workspace's tasks, a shared one
// (workspace ”) any.
func ListWorkers(ph func(n int) string) string {
	return `SELECT w.workspace_id, w.id, w.host, w.version, w.queues, w.concurrency, w.last_seen_at,
			(SELECT count(*) FROM tasks t WHERE t.status = 'running' AND t.worker_id = w.id
				AND (w.workspace_id = '' OR t.workspace_id = w.workspace_id))
		FROM workers w
		WHERE w.last_seen_at >= ` + ph(1) + ` AND (` + ph(2) + ` = '*' OR w.workspace_id = ` + ph(2) + `)
		ORDER BY w.workspace_id, w.id`
}

// PruneWorkers deletes the workers last seen before ph(1).
func PruneWorkers(ph func(n int) string) string {
	return `DELETE FROM workers WHERE last_seen_at < ` + ph(1)
}

// ListQueues selects (queue, status, n, oldest queued created_at) of
// workspace ph(1) from task_counts (its shards summed, on PostgreSQL); the oldest queued task is found by id
// (ids grow with creation time) through tasks_workspace_status_id.
func ListQueues(ph func(n int) string) string {
	return `SELECT c.queue, c.status, c.n,
			CASE WHEN c.status = 'queued' AND c.n > 0 THEN
				(SELECT t.created_at FROM tasks t WHERE t.workspace_id = c.workspace_id
					AND t.status = 'queued' AND t.queue = c.queue ORDER BY t.id LIMIT 1) END
		FROM (SELECT workspace_id, queue, status, sum(n) AS n FROM task_counts WHERE workspace_id = ` + ph(1) + `
			GROUP BY workspace_id, queue, status) c
		ORDER BY c.queue, c.status`
}

// QueueRow is one row of ListQueues, Oldest zero for NULL.
type QueueRow struct {
	Queue, Status string
	N             int
	Oldest        time.Time
}

// FoldQueues folds ListQueues' rows (ordered by queue) into one QueueCount
// per queue.
func FoldQueues(rows []QueueRow) []store.QueueCount {
	out := []store.QueueCount{}
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Queue != r.Queue {
			out = append(out, store.QueueCount{Queue: r.Queue, Counts: map[string]int{}})
		}
		q := &out[len(out)-1]
		if r.N > 0 {
			q.Counts[r.Status] = r.N
		}
		if !r.Oldest.IsZero() {
			q.OldestQueuedAt = r.Oldest
		}
	}
	return out
}
