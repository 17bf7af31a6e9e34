-- +goose Up
-- Ids use the "C" collation so ORDER BY id and id > $after follow byte order,
-- whatever the database's default collation is.
CREATE TABLE workspaces (
    id         text COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
    name       text        NOT NULL UNIQUE,
    tier       text        NOT NULL,
    status     text        NOT NULL,
    overrides  jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- workspace_id is '' for operator keys, so it carries no foreign key: the
-- store checks (and share-locks) the workspace inside the inserting transaction.
CREATE TABLE api_keys (
    id                  text COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id        text COLLATE "C" NOT NULL,
    name                text        NOT NULL,
    prefix              text        NOT NULL,
    hash                bytea       NOT NULL UNIQUE,
    previous_hash       bytea       UNIQUE,
    previous_expires_at timestamptz,
    scopes              jsonb       NOT NULL DEFAULT '[]',
    expires_at          timestamptz,
    last_used_at        timestamptz,
    revoked_at          timestamptz,
    created_at          timestamptz NOT NULL
);

CREATE INDEX api_keys_workspace_id_id ON api_keys (workspace_id, id);

-- Audit events outlive their workspace: no foreign key.
CREATE TABLE audit_events (
    id           text COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id text COLLATE "C" NOT NULL,
    actor        text        NOT NULL,
    action       text        NOT NULL,
    target       text        NOT NULL,
    request_id   text        NOT NULL,
    data         jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL
);

CREATE INDEX audit_events_workspace_id_id ON audit_events (workspace_id, id);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE workspaces;
