-- +goose Up
-- task_counts holds the number of tasks per workspace, queue and status,
-- kept exact by the statement triggers below in the transaction that
-- changes the tasks. Admission (queued per workspace), the claim's
-- concurrency cap (running per workspace), GET /v1/queues and /metrics read
-- these few rows instead of counting tasks, so their cost does not grow
-- with the queue. Triggers rather than code in each transition: every path
-- that writes tasks (transitions, the reaper, restore, workspace deletion's
-- cascade) keeps the counts right without knowing about them.
--
-- Each trigger folds its statement's rows into one upsert ordered by key, so
-- concurrent statements lock count rows in the same order and cannot
-- deadlock each other on them. Rows at zero stay (one per workspace, queue
-- and status ever used); a workspace's rows go with it.
CREATE TABLE task_counts (
    workspace_id text COLLATE "C" NOT NULL,
    queue        text   NOT NULL,
    status       text   NOT NULL,
    n            bigint NOT NULL,
    PRIMARY KEY (workspace_id, queue, status)
);
CREATE INDEX task_counts_queue_status ON task_counts (queue, status);

INSERT INTO task_counts (workspace_id, queue, status, n)
SELECT workspace_id, queue, status, count(*) FROM tasks GROUP BY 1, 2, 3;

-- +goose StatementBegin
CREATE FUNCTION task_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (workspace_id, queue, status, n)
    SELECT workspace_id, queue, status, count(*) FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, queue, status) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION task_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (workspace_id, queue, status, n)
    SELECT workspace_id, queue, status, sum(d) FROM (
        SELECT workspace_id, queue, status, 1 AS d FROM new_rows
        UNION ALL
        SELECT workspace_id, queue, status, -1 FROM old_rows
    ) c GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, queue, status) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION task_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_counts c SET n = c.n - d.n
    FROM (SELECT workspace_id, queue, status, count(*) AS n FROM old_rows GROUP BY 1, 2, 3) d
    WHERE c.workspace_id = d.workspace_id AND c.queue = d.queue AND c.status = d.status;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION task_counts_workspace_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM task_counts c USING old_rows w WHERE c.workspace_id = w.id;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counts_insert();
CREATE TRIGGER task_counts_update AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counts_update();
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counts_delete();
CREATE TRIGGER task_counts_workspace_delete AFTER DELETE ON workspaces
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION task_counts_workspace_delete();

-- workers: who polls (GET /v1/workers, the pollers of GET /v1/queues). A
-- claim writes its worker's row at most every 15 s (the server throttles
-- it), so a busy worker costs no extra statement per claim. workspace_id is
-- '' for a shared worker (an operator key).
CREATE TABLE workers (
    workspace_id text COLLATE "C" NOT NULL,
    id           text COLLATE "C" NOT NULL,
    host         text        NOT NULL DEFAULT '',
    version      text        NOT NULL DEFAULT '',
    queues       jsonb       NOT NULL DEFAULT '[]',
    concurrency  integer     NOT NULL DEFAULT 0,
    last_seen_at timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX workers_last_seen_at ON workers (last_seen_at);

-- +goose Down
DROP TABLE workers;
DROP TRIGGER task_counts_workspace_delete ON workspaces;
DROP TRIGGER task_counts_delete ON tasks;
DROP TRIGGER task_counts_update ON tasks;
DROP TRIGGER task_counts_insert ON tasks;
DROP FUNCTION task_counts_workspace_delete();
DROP FUNCTION task_counts_delete();
DROP FUNCTION task_counts_update();
DROP FUNCTION task_counts_insert();
DROP TABLE task_counts;
