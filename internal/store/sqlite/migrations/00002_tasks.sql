-- +goose Up
-- Round robin across workspaces: a claim stamps its workspace with
-- max(last_claim_seq) + 1, and claims serve the workspace with the lowest
-- stamp first (0: never served). A counter, not a time, so that two claims
-- in the same microsecond still take turns.
ALTER TABLE workspaces ADD COLUMN last_claim_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX workspaces_last_claim_seq_id ON workspaces (last_claim_seq, id);

-- input, output and labels are JSON text. event_seq is the seq of the
-- task's last event: each transition increments it in the same transaction.
CREATE TABLE tasks (
    id                 TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id       TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    queue              TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN
                           ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'terminated')),
    priority           INTEGER NOT NULL,
    input              TEXT    NOT NULL CHECK (json_valid(input)),
    output             TEXT    CHECK (json_valid(output)),
    error              TEXT    NOT NULL DEFAULT '',
    labels             TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),
    attempt            INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL CHECK (max_attempts >= 1),
    timeout_seconds    INTEGER NOT NULL DEFAULT 0,
    idempotency_key    TEXT,
    request_hash       BLOB,
    status_reason      TEXT    NOT NULL DEFAULT '',
    run_at             INTEGER NOT NULL,
    lease_expires_at   INTEGER,
    worker_id          TEXT    NOT NULL DEFAULT '',
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    attempt_started_at INTEGER,
    execution_ms       INTEGER NOT NULL DEFAULT 0,
    tokens             INTEGER NOT NULL DEFAULT 0,
    cost_micros        INTEGER NOT NULL DEFAULT 0,
    event_seq          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (workspace_id, idempotency_key)
) STRICT;

-- The claim: a workspace's claimable tasks in pick order.
CREATE INDEX tasks_claim ON tasks (workspace_id, queue, priority DESC, id) WHERE status = 'queued';
-- Counts by status, and lists filtered by status.
CREATE INDEX tasks_workspace_status_id ON tasks (workspace_id, status, id);
-- Lists, newest first.
CREATE INDEX tasks_workspace_id ON tasks (workspace_id, id);
-- The reaper.
CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE status = 'running';

CREATE TABLE task_attempts (
    task_id      TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    workspace_id TEXT    NOT NULL,
    worker_id    TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    error        TEXT    NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    heartbeat_at INTEGER NOT NULL,
    execution_ms INTEGER NOT NULL DEFAULT 0,
    tokens       INTEGER NOT NULL DEFAULT 0,
    cost_micros  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, number)
) STRICT;

CREATE TABLE task_events (
    task_id      TEXT    NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    workspace_id TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT '',
    attempt      INTEGER NOT NULL,
    message      TEXT    NOT NULL DEFAULT '',
    at           INTEGER NOT NULL,
    PRIMARY KEY (task_id, seq)
) STRICT;

-- +goose Down
DROP TABLE task_events;
DROP TABLE task_attempts;
DROP TABLE tasks;
DROP INDEX workspaces_last_claim_seq_id;
ALTER TABLE workspaces DROP COLUMN last_claim_seq;
