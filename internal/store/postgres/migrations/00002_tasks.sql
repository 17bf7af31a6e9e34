-- +goose Up
-- Round robin across workspaces: a claim stamps its workspace with the next
-- value of workspace_claim_seq, and claims serve the workspace with the
-- lowest stamp first (0: never served). A counter, not a time, so that two
-- claims in the same microsecond still take turns.
CREATE SEQUENCE workspace_claim_seq;
ALTER TABLE workspaces ADD COLUMN last_claim_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX workspaces_last_claim_seq_id ON workspaces (last_claim_seq, id);

-- input and output are json, not jsonb: they read back byte for byte (as in
-- SQLite), and json accepts the \u0000 escape that jsonb rejects. labels is
-- jsonb for the ->> filter. event_seq is the seq of the task's last event:
-- each transition increments it in the same transaction.
CREATE TABLE tasks (
    id                 text COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id       text COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    queue              text        NOT NULL,
    status             text        NOT NULL CHECK (status IN
                           ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'terminated')),
    priority           integer     NOT NULL,
    input              json        NOT NULL,
    output             json,
    error              text        NOT NULL DEFAULT '',
    labels             jsonb       NOT NULL DEFAULT '{}',
    attempt            integer     NOT NULL DEFAULT 0,
    max_attempts       integer     NOT NULL CHECK (max_attempts >= 1),
    timeout_seconds    bigint      NOT NULL DEFAULT 0,
    idempotency_key    text,
    request_hash       bytea,
    status_reason      text        NOT NULL DEFAULT '',
    run_at             timestamptz NOT NULL,
    lease_expires_at   timestamptz,
    worker_id          text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL,
    started_at         timestamptz,
    finished_at        timestamptz,
    attempt_started_at timestamptz,
    execution_ms       bigint      NOT NULL DEFAULT 0,
    tokens             bigint      NOT NULL DEFAULT 0,
    cost_micros        bigint      NOT NULL DEFAULT 0,
    event_seq          bigint      NOT NULL DEFAULT 0,
    UNIQUE (workspace_id, idempotency_key)
);

-- The claim: a workspace's claimable tasks in pick order.
CREATE INDEX tasks_claim ON tasks (workspace_id, queue, priority DESC, id) WHERE status = 'queued';
-- Counts by status, and lists filtered by status.
CREATE INDEX tasks_workspace_status_id ON tasks (workspace_id, status, id);
-- Lists, newest first.
CREATE INDEX tasks_workspace_id ON tasks (workspace_id, id);
-- The reaper.
CREATE INDEX tasks_lease ON tasks (lease_expires_at) WHERE status = 'running';

CREATE TABLE task_attempts (
    task_id      text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    number       integer     NOT NULL,
    workspace_id text COLLATE "C" NOT NULL,
    worker_id    text        NOT NULL,
    status       text        NOT NULL,
    error        text        NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    heartbeat_at timestamptz NOT NULL,
    execution_ms bigint      NOT NULL DEFAULT 0,
    tokens       bigint      NOT NULL DEFAULT 0,
    cost_micros  bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, number)
);

CREATE TABLE task_events (
    task_id      text COLLATE "C" NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    seq          bigint      NOT NULL,
    workspace_id text COLLATE "C" NOT NULL,
    type         text        NOT NULL,
    status       text        NOT NULL DEFAULT '',
    attempt      integer     NOT NULL,
    message      text        NOT NULL DEFAULT '',
    at           timestamptz NOT NULL,
    PRIMARY KEY (task_id, seq)
);

-- +goose Down
DROP TABLE task_events;
DROP TABLE task_attempts;
DROP TABLE tasks;
DROP INDEX workspaces_last_claim_seq_id;
ALTER TABLE workspaces DROP COLUMN last_claim_seq;
DROP SEQUENCE workspace_claim_seq;
