-- +goose Up
-- QueueStats (/metrics): tasks counted per status and queue, and the oldest
-- queued task's age per queue, across workspaces, from this index alone.
CREATE INDEX tasks_status_queue_created ON tasks (status, queue, created_at);

-- +goose Down
DROP INDEX tasks_status_queue_created;
