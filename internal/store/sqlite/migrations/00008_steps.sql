-- +goose Up
-- Durable steps (docs/steps.md). A task may now be 'waiting': it sleeps,
-- waits for a signal, a child, an operator or budget, with no lease and no
-- slot. SQLite cannot alter a CHECK constraint, and rebuilding tasks would
-- need foreign keys off (its attempts and events cascade from it); widening
-- the CHECK changes nothing on disk, so the documented writable_schema edit
-- (sqlite.org/lang_altertable.html, "other kinds of schema changes") does it
-- below.

-- max_cost_micros: the task's budget, its children included (0: none).
-- parent_id: the task that spawned it. suspended_attempts: attempts that
-- ended suspended (a wait), which max_attempts does not count. wake_at:
-- when a waiting task's timer fires (a sleep, a wait's timeout).
ALTER TABLE tasks ADD COLUMN max_cost_micros INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN suspended_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN wake_at INTEGER;
CREATE INDEX tasks_wake ON tasks (wake_at) WHERE status = 'waiting';
CREATE INDEX tasks_parent ON tasks (parent_id) WHERE parent_id <> '';

-- task_steps: the journal. attempt is the task attempt that began the step
-- last, seen_attempt the last attempt that reached it (a replay too): a key
-- repeated within one attempt is numbered by counting the keys seen in it.
-- base_* are the attempt's usage totals at the begin: the step's usage is
-- the attempt's growth from them to the end. waste_* is the usage of runs
-- whose attempt died inside the step (billed, reported as retry_waste).
CREATE TABLE task_steps (
    task_id          TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    key              TEXT    NOT NULL,
    base_key         TEXT    NOT NULL,
    workspace_id     TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('run', 'sleep', 'wait', 'spawn')),
    status           TEXT    NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'waiting')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL,
    seen_attempt     INTEGER NOT NULL,
    at_most_once     INTEGER NOT NULL DEFAULT 0,
    input_hash       TEXT    NOT NULL DEFAULT '',
    output           TEXT    CHECK (json_valid(output)),
    error            TEXT    NOT NULL DEFAULT '',
    execution_ms     INTEGER NOT NULL DEFAULT 0,
    tokens           INTEGER NOT NULL DEFAULT 0,
    cost_micros      INTEGER NOT NULL DEFAULT 0,
    base_execution_ms INTEGER NOT NULL DEFAULT 0,
    base_tokens      INTEGER NOT NULL DEFAULT 0,
    base_cost_micros INTEGER NOT NULL DEFAULT 0,
    waste_execution_ms INTEGER NOT NULL DEFAULT 0,
    waste_tokens     INTEGER NOT NULL DEFAULT 0,
    waste_cost_micros INTEGER NOT NULL DEFAULT 0,
    wait_reason      TEXT    NOT NULL DEFAULT '',
    wait_signal      TEXT    NOT NULL DEFAULT '',
    child_id         TEXT    NOT NULL DEFAULT '',
    wake_at          INTEGER,
    seq              INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    finished_at      INTEGER,
    PRIMARY KEY (task_id, key)
) STRICT;

-- A begin reads the steps of its key (numbering repeats, finding the step).
CREATE INDEX task_steps_base_key ON task_steps (task_id, base_key);

-- task_signals: signals sent to a task, kept until a wait consumes them, in
-- the order sent (seq). idempotency_key is unique per task.
CREATE TABLE task_signals (
    id              TEXT    NOT NULL PRIMARY KEY,
    workspace_id    TEXT    NOT NULL,
    task_id         TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    data            TEXT    NOT NULL CHECK (json_valid(data)),
    idempotency_key TEXT,
    consumed_by     TEXT    NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    UNIQUE (task_id, idempotency_key),
    UNIQUE (task_id, seq)
) STRICT;

-- Last, after the ALTERs (which reparse the table): widen the CHECK and
-- reload the schema (RESET).
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(sql, '''timed_out'', ''terminated'')', '''timed_out'', ''terminated'', ''waiting'')')
WHERE type = 'table' AND name = 'tasks';
PRAGMA writable_schema = RESET;

-- +goose Down
DROP TABLE task_signals;
DROP TABLE task_steps;
DROP INDEX tasks_parent;
DROP INDEX tasks_wake;
ALTER TABLE tasks DROP COLUMN wake_at;
ALTER TABLE tasks DROP COLUMN suspended_attempts;
ALTER TABLE tasks DROP COLUMN parent_id;
ALTER TABLE tasks DROP COLUMN max_cost_micros;
