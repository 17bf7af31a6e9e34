-- +goose Up
-- Alerts: threshold crossings and usage anomalies. The unique key makes a
-- raise idempotent: one alert per threshold per billing period, one anomaly
-- per metric per hour (threshold is 0 for anomalies). A workspace's alerts
-- go with it (ON DELETE CASCADE).
CREATE TABLE alerts (
    id           text COLLATE "C" NOT NULL PRIMARY KEY CHECK (id <> ''),
    workspace_id text COLLATE "C" NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind         text             NOT NULL CHECK (kind IN ('threshold', 'anomaly')),
    metric       text             NOT NULL,
    threshold    integer          NOT NULL,
    period       text             NOT NULL,
    value        double precision NOT NULL,
    limit_value  double precision NOT NULL,
    message      text             NOT NULL DEFAULT '',
    created_at   timestamptz      NOT NULL,
    acked_at     timestamptz
);

CREATE UNIQUE INDEX alerts_key ON alerts (workspace_id, kind, metric, threshold, period);
-- Lists, newest first: all, and unacknowledged only.
CREATE INDEX alerts_workspace_id ON alerts (workspace_id, id);
CREATE INDEX alerts_workspace_unacked_id ON alerts (workspace_id, id) WHERE acked_at IS NULL;

-- +goose Down
DROP TABLE alerts;
