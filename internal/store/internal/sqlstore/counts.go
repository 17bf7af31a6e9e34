// Package sqlstore holds SQL text that the SQLite and PostgreSQL stores
// share word for word; each dialect passes its own placeholders where a
// statement takes arguments.
package sqlstore

// Count is a scalar subquery: how many of workspace ws's tasks are in
// status, read from task_counts (kept by triggers, see migration 00006)
// rather than by counting tasks, so its cost does not grow with the queue.
// ws and status are SQL expressions (a column or a placeholder).
func Count(ws, status string) string {
	return `(SELECT coalesce(sum(n), 0) FROM task_counts WHERE workspace_id = ` + ws + ` AND status = ` + status + `)`
}

// CountAny is Count over every status when status is ” (a placeholder
// bound to "" or to one status).
func CountAny(ws, status string) string {
	return `(SELECT coalesce(sum(n), 0) FROM task_counts WHERE workspace_id = ` + ws +
		` AND (` + status + ` = '' OR status = ` + status + `))`
}

// CountByWorkspace selects (workspace_id, count) of the tasks in status (a
// placeholder), one row per workspace that has any.
func CountByWorkspace(status string) string {
	return `SELECT workspace_id, sum(n) FROM task_counts WHERE status = ` + status + `
		GROUP BY workspace_id HAVING sum(n) > 0`
}

// QueueStats selects (queue, status, count, oldest created_at) per queue
// and status that has tasks, across workspaces; oldest is the oldest
// queued task's created_at (NULL for other statuses), one index probe of
// tasks_status_queue_created per queue.
const QueueStats = `SELECT c.queue, c.status, c.n,
		CASE WHEN c.status = 'queued' THEN
			(SELECT min(t.created_at) FROM tasks t WHERE t.status = 'queued' AND t.queue = c.queue) END
	FROM (SELECT queue, status, sum(n) AS n FROM task_counts GROUP BY queue, status HAVING sum(n) > 0) c
	ORDER BY c.queue, c.status`
