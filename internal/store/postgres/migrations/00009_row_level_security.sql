-- +goose Up
-- Row-level security (docs/security.md): a second wall behind the workspace
-- predicate of every query. A statement sees and writes a tenant's rows only
-- if the transaction-local setting baton.workspace_id names its workspace
-- ('*': system work; unset or empty: nothing). FORCE holds the tables' owner
-- to it too, so the server is bound whichever role it runs as, but for a
-- superuser or a BYPASSRLS role (the server logs at start which it is).
-- +goose StatementBegin
CREATE FUNCTION baton_scope_sees(ws text) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE coalesce(current_setting('baton.workspace_id', true), '')
        WHEN '*' THEN true
        WHEN '' THEN false
        ELSE ws = ANY (string_to_array(current_setting('baton.workspace_id', true), ','))
    END
$$;
-- +goose StatementEnd

ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON workspaces USING (baton_scope_sees(id)) WITH CHECK (baton_scope_sees(id));
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON api_keys USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON audit_events USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE tasks ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON tasks USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE task_attempts ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON task_attempts USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE task_events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON task_events USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON usage_events USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE usage_hourly ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON usage_hourly USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE usage_monthly ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON usage_monthly USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE alerts ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON alerts USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE task_counts ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON task_counts USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE workers ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
-- A shared worker (workspace '') serves every tenant: each may see it, none may change it.
CREATE POLICY tenant ON workers USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
CREATE POLICY shared_read ON workers FOR SELECT USING (workspace_id = '');
ALTER TABLE task_steps ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON task_steps USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));
ALTER TABLE task_signals ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON task_signals USING (baton_scope_sees(workspace_id)) WITH CHECK (baton_scope_sees(workspace_id));

-- +goose Down
DROP POLICY tenant ON workspaces;
ALTER TABLE workspaces NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON api_keys;
ALTER TABLE api_keys NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON audit_events;
ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON tasks;
ALTER TABLE tasks NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON task_attempts;
ALTER TABLE task_attempts NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON task_events;
ALTER TABLE task_events NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON usage_events;
ALTER TABLE usage_events NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON usage_hourly;
ALTER TABLE usage_hourly NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON usage_monthly;
ALTER TABLE usage_monthly NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON alerts;
ALTER TABLE alerts NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON task_counts;
ALTER TABLE task_counts NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY shared_read ON workers;
DROP POLICY tenant ON workers;
ALTER TABLE workers NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON task_steps;
ALTER TABLE task_steps NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant ON task_signals;
ALTER TABLE task_signals NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
DROP FUNCTION baton_scope_sees(text);
