#!/usr/bin/env bash
# Creates the read-only role the ELT reads `prod` with ($WAREHOUSE_READER_USER, password
# $WAREHOUSE_READER_PASSWORD): it may connect to prod only, and only SELECT there (tables and
# sequences, those created later by $POSTGRES_USER too); every transaction of it is read-only.
# Runs once, after 01-databases.sh, on the first start with an empty data volume.
set -euo pipefail
: "${WAREHOUSE_READER_USER:?}" "${WAREHOUSE_READER_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v reader="$WAREHOUSE_READER_USER" -v password="$WAREHOUSE_READER_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'reader', :'password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader')
\gexec
ALTER ROLE :"reader" SET default_transaction_read_only = on;
-- Only the owner connects to analytics and app; the reader connects to prod alone.
REVOKE CONNECT ON DATABASE analytics, app FROM PUBLIC;
GRANT CONNECT ON DATABASE prod TO :"reader";
SQL

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname prod \
    -v reader="$WAREHOUSE_READER_USER" -v owner="$POSTGRES_USER" <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON SEQUENCES TO :"reader";
SQL
