-- The ELT's record of the local days it has loaded (load_events) and enriched (enrich_events),
-- in analytics. The daily DAG computes a week's views only once its seven days are here with
-- enriched_at set (analytics.engagement.loaded_days). Idempotent. {loaded_days} is filled in by
-- the caller. Not a production table: copy_production's pg_restore --clean never touches it.

CREATE TABLE IF NOT EXISTS {loaded_days} (
    day date PRIMARY KEY,             -- local day, in the configured time zone
    events bigint NOT NULL,           -- events of that day in analytics after the load
    loaded_at timestamptz NOT NULL,   -- when the last load of that day committed
    enriched_at timestamptz           -- when it was last enriched; NULL after a load, until then
);
