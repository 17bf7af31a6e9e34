-- +goose Up
-- Log budget (max_log_bytes_per_task): the bytes of log lines a task has
-- stored over all its attempts, and the lines dropped past its budget.
ALTER TABLE tasks ADD COLUMN log_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN logs_dropped INTEGER NOT NULL DEFAULT 0;

-- Event retention (event_retention_days) deletes a workspace's task events
-- and raw usage events older than its retention, by time.
CREATE INDEX task_events_at ON task_events (workspace_id, at);
CREATE INDEX usage_events_at ON usage_events (workspace_id, at);

-- +goose Down
DROP INDEX usage_events_at;
DROP INDEX task_events_at;
ALTER TABLE tasks DROP COLUMN logs_dropped;
ALTER TABLE tasks DROP COLUMN log_bytes;
