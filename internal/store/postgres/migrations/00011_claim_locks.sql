-- +goose Up
-- A workspace's claims take turns on a row of their own, claim_locks, no
-- longer on the workspace's row. On the workspace's row they queued behind
-- its submits (which lock it for admission, a different rule: the queued
-- cap), and every claim updated it (the served stamp, last_claim_seq) — the
-- row that every insert into tasks, attempts, events and usage checks with a
-- foreign-key share lock, so each claim left a new row version (and a new
-- entry in the seq index) for those checks to walk and lock. seq is the
-- served stamp of shared workers, which serve the workspace whose last
-- shared claim is oldest first; claims counts every claim, so that each
-- makes a new row version (the claim's recount check reads it). A
-- workspace worker's claim changes only claims, which no index holds, so
-- its update is HOT and pruned on the page (fillfactor leaves it room);
-- with every claim changing the indexed seq, a 60 s mixed benchmark left
-- 16 251 dead versions of 100 rows for every claim's lookup to walk, and
-- the p99 of every route grew through the run. Nothing references
-- claim_locks, so its updates cost the hot path nothing more.
CREATE TABLE claim_locks (
    workspace_id text COLLATE "C" PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    seq          bigint NOT NULL DEFAULT 0,
    claims       bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 50);
CREATE INDEX claim_locks_seq ON claim_locks (seq, workspace_id);
INSERT INTO claim_locks (workspace_id, seq) SELECT id, last_claim_seq FROM workspaces;
DROP INDEX workspaces_last_claim_seq_id;
ALTER TABLE workspaces DROP COLUMN last_claim_seq;

-- +goose StatementBegin
CREATE FUNCTION claim_locks_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO claim_locks (workspace_id) SELECT id FROM new_rows ORDER BY id;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER claim_locks_insert AFTER INSERT ON workspaces
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION claim_locks_insert();

ALTER TABLE claim_locks ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON claim_locks USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));

-- +goose Down
ALTER TABLE workspaces ADD COLUMN last_claim_seq bigint NOT NULL DEFAULT 0;
UPDATE workspaces w SET last_claim_seq = c.seq FROM claim_locks c WHERE c.workspace_id = w.id;
CREATE INDEX workspaces_last_claim_seq_id ON workspaces (last_claim_seq, id);
DROP TRIGGER claim_locks_insert ON workspaces;
DROP FUNCTION claim_locks_insert();
DROP TABLE claim_locks;
