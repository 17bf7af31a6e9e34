#!/usr/bin/env bash
# Creates baton_app, the role the baton service connects as: it owns
# nothing and is neither a superuser nor BYPASSRLS, so PostgreSQL's
# row-level security binds every query it sends (docs/security.md). The
# migrate service, as the superuser that owns the tables, grants it their
# use with `baton server migrate --grant baton_app`.
#
# The postgres image runs this once, when it initializes an empty data
# volume. For a volume made before this script existed, run the same SQL
# by hand (docs/self-hosting.md, "Row-level security with compose").
set -euo pipefail
: "${BATON_DB_APP_PASSWORD:?set BATON_DB_APP_PASSWORD in .env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v app_password="$BATON_DB_APP_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE baton_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD %L', :'app_password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'baton_app')
\gexec
SQL
