-- +goose Up
-- Alerts: threshold crossings and usage anomalies. The unique key makes a
-- raise idempotent: one alert per threshold per billing period, one anomaly
-- per metric per hour (threshold is 0 for anomalies). Times are Unix
-- microseconds, UTC. A workspace's alerts go with it (ON DELETE CASCADE).
CREATE TABLE alerts (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id TEXT    NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL CHECK (kind IN ('threshold', 'anomaly')),
    metric       TEXT    NOT NULL,
    threshold    INTEGER NOT NULL,
    period       TEXT    NOT NULL,
    value        REAL    NOT NULL,
    limit_value  REAL    NOT NULL,
    message      TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    acked_at     INTEGER
) STRICT;

CREATE UNIQUE INDEX alerts_key ON alerts (workspace_id, kind, metric, threshold, period);
-- Lists, newest first: all, and unacknowledged only.
CREATE INDEX alerts_workspace_id ON alerts (workspace_id, id);
CREATE INDEX alerts_workspace_unacked_id ON alerts (workspace_id, id) WHERE acked_at IS NULL;

-- +goose Down
DROP TABLE alerts;
