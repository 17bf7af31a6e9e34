-- +goose Up
-- Usage events, kept once per (workspace, dedup id), and their rollups per
-- hour and per billing period (calendar month UTC), maintained in the
-- transaction that records the events. Times are Unix microseconds, UTC.
CREATE TABLE usage_events (
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id           TEXT    NOT NULL CHECK (id <> ''),
    metric       TEXT    NOT NULL,
    value        INTEGER NOT NULL CHECK (value >= 0),
    at           INTEGER NOT NULL,
    task_id      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (workspace_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE usage_hourly (
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    metric       TEXT    NOT NULL,
    hour         INTEGER NOT NULL,
    value        INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, metric, hour)
) STRICT, WITHOUT ROWID;

CREATE TABLE usage_monthly (
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    metric       TEXT    NOT NULL,
    period       INTEGER NOT NULL,
    value        INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, metric, period)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE usage_monthly;
DROP TABLE usage_hourly;
DROP TABLE usage_events;
