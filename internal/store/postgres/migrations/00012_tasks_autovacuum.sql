-- +goose Up
-- tasks is a queue: a task's claim and its completion each update its row,
-- and neither update is HOT (status is indexed), so every task leaves two
-- dead versions and their index entries behind. At autovacuum's defaults
-- (vacuum at 20 % of the table dead) they piled up for minutes: in a 60 s
-- mixed benchmark every route's latency grew through the run, and a VACUUM
-- of tasks in the middle of it put them back at their first seconds'.
-- Vacuum it at 1 % dead (and 1 000 rows), analyze at 2 %: on a table of
-- millions of rows, still a few seconds of a busy queue's updates.
-- docs/self-hosting.md also asks for autovacuum_naptime = 10s.
ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02);

-- +goose Down
ALTER TABLE tasks RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_analyze_scale_factor);
