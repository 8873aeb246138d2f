#!/usr/bin/env bash
# Creates the warehouse databases: prod (source data for the ELT), analytics (ELT target) and
# app (source of the BI aggregation), all owned by $POSTGRES_USER.
# The postgres image runs this once, on the first start with an empty data volume; the
# existence check makes a second run harmless anyway.
set -euo pipefail

for database in prod analytics app; do
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v database="$database" -v owner="$POSTGRES_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')
\gexec
SQL
done
