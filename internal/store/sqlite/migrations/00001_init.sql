-- +goose Up
-- Times are INTEGER unix microseconds (UTC). JSON columns are TEXT.
CREATE TABLE workspaces (
    id         TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    name       TEXT    NOT NULL UNIQUE,
    tier       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    overrides  TEXT    NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- workspace_id is '' for operator keys, so it carries no foreign key: the
-- store checks the workspace exists inside the inserting transaction.
CREATE TABLE api_keys (
    id                  TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id        TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    prefix              TEXT    NOT NULL,
    hash                BLOB    NOT NULL UNIQUE,
    previous_hash       BLOB    UNIQUE,
    previous_expires_at INTEGER,
    scopes              TEXT    NOT NULL DEFAULT '[]',
    expires_at          INTEGER,
    last_used_at        INTEGER,
    revoked_at          INTEGER,
    created_at          INTEGER NOT NULL
) STRICT;

CREATE INDEX api_keys_workspace_id_id ON api_keys (workspace_id, id);

-- Audit events outlive their workspace: no foreign key.
CREATE TABLE audit_events (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    target       TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    data         TEXT    NOT NULL DEFAULT '{}',
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX audit_events_workspace_id_id ON audit_events (workspace_id, id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE workspaces;
