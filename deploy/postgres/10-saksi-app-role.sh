#!/bin/sh
# PostgreSQL's image runs this once, on a fresh volume (/docker-entrypoint-initdb.d): the role
# Saksi's app and workers connect as. It owns nothing; `saksi db upgrade` (run as the schema
# owner, POSTGRES_USER) grants it DML on the tables and only SELECT and INSERT on the custody
# ledger, so append-only does not rest on triggers a superuser could disable.
set -eu
APP_ROLE="${SAKSI_APP_ROLE:-saksi_app}"
APP_PASSWORD="$(cat "${SAKSI_APP_PASSWORD_FILE:-/run/secrets/saksi_app_db_password}")"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="$APP_ROLE" -v password="$APP_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
GRANT CONNECT ON DATABASE :"DBNAME" TO :"role";
SQL
