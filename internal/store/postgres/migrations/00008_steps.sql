-- +goose Up
-- Durable steps (docs/steps.md). A task may now be 'waiting': it sleeps,
-- waits for a signal, a child, an operator or budget, with no lease and no
-- slot.
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN
    ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'terminated', 'waiting'));

-- max_cost_micros: the task's budget, its children included (0: none).
-- parent_id: the task that spawned it. suspended_attempts: attempts that
-- ended suspended (a wait), which max_attempts does not count. wake_at:
-- when a waiting task's timer fires (a sleep, a wait's timeout).
ALTER TABLE tasks ADD COLUMN max_cost_micros bigint NOT NULL DEFAULT 0,
    ADD COLUMN parent_id text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN suspended_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN wake_at timestamptz;
CREATE INDEX tasks_wake ON tasks (wake_at) WHERE status = 'waiting';
CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id <> '';

-- task_steps: the journal (see the SQLite migration for the columns).
CREATE TABLE task_steps (
    task_id            text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    key                text COLLATE "C" NOT NULL,
    base_key           text COLLATE "C" NOT NULL,
    workspace_id       text COLLATE "C" NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('run', 'sleep', 'wait', 'spawn')),
    status             text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'waiting')),
    attempts           integer     NOT NULL DEFAULT 0,
    attempt            integer     NOT NULL,
    seen_attempt       integer     NOT NULL,
    at_most_once       boolean     NOT NULL DEFAULT false,
    input_hash         text        NOT NULL DEFAULT '',
    output             json,
    error              text        NOT NULL DEFAULT '',
    execution_ms       bigint      NOT NULL DEFAULT 0,
    tokens             bigint      NOT NULL DEFAULT 0,
    cost_micros        bigint      NOT NULL DEFAULT 0,
    base_execution_ms  bigint      NOT NULL DEFAULT 0,
    base_tokens        bigint      NOT NULL DEFAULT 0,
    base_cost_micros   bigint      NOT NULL DEFAULT 0,
    waste_execution_ms bigint      NOT NULL DEFAULT 0,
    waste_tokens       bigint      NOT NULL DEFAULT 0,
    waste_cost_micros  bigint      NOT NULL DEFAULT 0,
    wait_reason        text        NOT NULL DEFAULT '',
    wait_signal        text        NOT NULL DEFAULT '',
    child_id           text COLLATE "C" NOT NULL DEFAULT '',
    wake_at            timestamptz,
    seq                integer     NOT NULL,
    started_at         timestamptz NOT NULL,
    finished_at        timestamptz,
    PRIMARY KEY (task_id, key)
);

-- A begin reads the steps of its key (numbering repeats, finding the step).
CREATE INDEX task_steps_base_key ON task_steps (task_id, base_key);

CREATE TABLE task_signals (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    workspace_id    text COLLATE "C" NOT NULL,
    task_id         text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL,
    name            text        NOT NULL,
    data            json        NOT NULL,
    idempotency_key text,
    consumed_by     text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    UNIQUE (task_id, idempotency_key),
    UNIQUE (task_id, seq)
);

-- +goose Down
DROP TABLE task_signals;
DROP TABLE task_steps;
ALTER TABLE tasks DROP COLUMN wake_at, DROP COLUMN suspended_attempts, DROP COLUMN parent_id, DROP COLUMN max_cost_micros;
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check CHECK (status IN
    ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'terminated'));
