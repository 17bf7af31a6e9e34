-- +goose Up
-- task_counts holds the number of tasks per workspace, queue and status,
-- kept exact by the triggers below in the transaction that changes the
-- tasks. Admission (queued per workspace), the claim's concurrency cap
-- (running per workspace), GET /v1/queues and /metrics read these few rows
-- instead of counting tasks, so their cost does not grow with the queue.
-- Triggers rather than code in each transition: every path that writes
-- tasks (transitions, the reaper, restore, workspace deletion's cascade)
-- keeps the counts right without knowing about them. Rows at zero stay; a
-- workspace's rows go with it.
CREATE TABLE task_counts (
    workspace_id TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    n            INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, queue, status)
) WITHOUT ROWID;
CREATE INDEX task_counts_queue_status ON task_counts (queue, status);

INSERT INTO task_counts (workspace_id, queue, status, n)
SELECT workspace_id, queue, status, count(*) FROM tasks GROUP BY 1, 2, 3;

-- +goose StatementBegin
CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO task_counts (workspace_id, queue, status, n) VALUES (NEW.workspace_id, NEW.queue, NEW.status, 1)
    ON CONFLICT (workspace_id, queue, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER task_counts_update AFTER UPDATE OF status, queue ON tasks
WHEN OLD.status IS NOT NEW.status OR OLD.queue IS NOT NEW.queue BEGIN
    UPDATE task_counts SET n = n - 1
    WHERE workspace_id = OLD.workspace_id AND queue = OLD.queue AND status = OLD.status;
    INSERT INTO task_counts (workspace_id, queue, status, n) VALUES (NEW.workspace_id, NEW.queue, NEW.status, 1)
    ON CONFLICT (workspace_id, queue, status) DO UPDATE SET n = n + 1;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
    UPDATE task_counts SET n = n - 1
    WHERE workspace_id = OLD.workspace_id AND queue = OLD.queue AND status = OLD.status;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER task_counts_workspace_delete AFTER DELETE ON workspaces BEGIN
    DELETE FROM task_counts WHERE workspace_id = OLD.id;
END;
-- +goose StatementEnd

-- workers: who polls (GET /v1/workers, the pollers of GET /v1/queues). A
-- claim writes its worker's row at most every 15 s (the server throttles
-- it), so a busy worker costs no extra statement per claim. workspace_id is
-- '' for a shared worker (an operator key).
CREATE TABLE workers (
    workspace_id TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    host         TEXT    NOT NULL DEFAULT '',
    version      TEXT    NOT NULL DEFAULT '',
    queues       TEXT    NOT NULL DEFAULT '[]',
    concurrency  INTEGER NOT NULL DEFAULT 0,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
) WITHOUT ROWID;
CREATE INDEX workers_last_seen_at ON workers (last_seen_at);

-- +goose Down
DROP TABLE workers;
DROP TRIGGER task_counts_workspace_delete;
DROP TRIGGER task_counts_delete;
DROP TRIGGER task_counts_update;
DROP TRIGGER task_counts_insert;
DROP TABLE task_counts;
