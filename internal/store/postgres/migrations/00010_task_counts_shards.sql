-- +goose Up
-- task_counts gets a shard: each transaction adds its changes to the row
-- of its own backend's shard (pg_backend_pid() % 16), and readers sum the
-- shards. With one row per (workspace, queue, status), a claim (queued -1,
-- running +1) and a completion (running -1) of one workspace upserted the
-- same running row and waited for each other's commits; and since the
-- claim holds the workspace's lock meanwhile, the workspace's submits
-- waited too. Two transactions in flight are on two backends, so they
-- share a row only when their pids agree modulo 16. A shard's n may go
-- below zero (a task counted in on one shard and out on another); the sum
-- is the count.
CREATE FUNCTION baton_count_shard() RETURNS smallint LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
    SELECT (pg_backend_pid() % 16)::smallint
$$;

ALTER TABLE task_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE task_counts DROP CONSTRAINT task_counts_pkey;
ALTER TABLE task_counts ADD PRIMARY KEY (workspace_id, queue, status, shard);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (workspace_id, queue, status, shard, n)
    SELECT workspace_id, queue, status, baton_count_shard(), count(*) FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, queue, status, shard) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (workspace_id, queue, status, shard, n)
    SELECT workspace_id, queue, status, baton_count_shard(), sum(d) FROM (
        SELECT workspace_id, queue, status, 1 AS d FROM new_rows
        UNION ALL
        SELECT workspace_id, queue, status, -1 FROM old_rows
    ) c GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, queue, status, shard) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- A delete counts out on its own shard, like an update; but not the tasks
-- of a deleted workspace (the cascade of its delete), whose count rows
-- task_counts_workspace_delete removes: counted out, they would leave a
-- negative row behind.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (workspace_id, queue, status, shard, n)
    SELECT workspace_id, queue, status, baton_count_shard(), -count(*) FROM old_rows o
    WHERE EXISTS (SELECT 1 FROM workspaces w WHERE w.id = o.workspace_id)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, queue, status, shard) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_counts (workspace_id, queue, status, n)
    SELECT workspace_id, queue, status, count(*) FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (workspace_id, queue, status) DO UPDATE SET n = task_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION task_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE OR REPLACE FUNCTION task_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE task_counts c SET n = c.n - d.n
    FROM (SELECT workspace_id, queue, status, count(*) AS n FROM old_rows GROUP BY 1, 2, 3) d
    WHERE c.workspace_id = d.workspace_id AND c.queue = d.queue AND c.status = d.status;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- The shards folded back into one row each.
CREATE TEMP TABLE task_counts_folded AS
    SELECT workspace_id, queue, status, sum(n)::bigint AS n FROM task_counts GROUP BY 1, 2, 3;
DELETE FROM task_counts;
ALTER TABLE task_counts DROP CONSTRAINT task_counts_pkey;
ALTER TABLE task_counts DROP COLUMN shard;
ALTER TABLE task_counts ADD PRIMARY KEY (workspace_id, queue, status);
INSERT INTO task_counts (workspace_id, queue, status, n) SELECT * FROM task_counts_folded;
DROP TABLE task_counts_folded;
DROP FUNCTION baton_count_shard();
