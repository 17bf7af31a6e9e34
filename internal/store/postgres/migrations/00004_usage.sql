-- +goose Up
-- Usage events, kept once per (workspace, dedup id), and their rollups per
-- hour and per billing period (calendar month UTC), maintained in the
-- transaction that records the events.
CREATE TABLE usage_events (
    workspace_id text COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           text COLLATE "C" NOT NULL CHECK (id <> ''),
    metric       text        NOT NULL,
    value        bigint      NOT NULL CHECK (value >= 0),
    at           timestamptz NOT NULL,
    task_id      text        NOT NULL DEFAULT '',
    PRIMARY KEY (workspace_id, id)
);

CREATE TABLE usage_hourly (
    workspace_id text COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    metric       text COLLATE "C" NOT NULL,
    hour         timestamptz NOT NULL,
    value        bigint      NOT NULL,
    PRIMARY KEY (workspace_id, metric, hour)
);

CREATE TABLE usage_monthly (
    workspace_id text COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    metric       text COLLATE "C" NOT NULL,
    period       timestamptz NOT NULL,
    value        bigint      NOT NULL,
    PRIMARY KEY (workspace_id, metric, period)
);

-- +goose Down
DROP TABLE usage_monthly;
DROP TABLE usage_hourly;
DROP TABLE usage_events;
