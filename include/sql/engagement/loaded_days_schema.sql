-- The ELT's load log in analytics: the local days it has loaded (load_events) and enriched
-- (enrich_events), with what each day holds. A week is computed only once its seven days are
-- here with enriched_at set; a day's fingerprint changing marks the weeks that read it stale
-- (analytics.engagement.load_log). Idempotent, also on a log made before fingerprint and
-- changed_at existed. {loaded_days} is filled in by the caller. Not a production table:
-- copy_production's pg_restore --clean never touches it.

CREATE TABLE IF NOT EXISTS {loaded_days} (
    day date PRIMARY KEY,             -- local day, in the configured time zone
    events bigint NOT NULL,           -- events of that day in analytics after the last load
    loaded_at timestamptz NOT NULL,   -- when the last load of that day committed
    enriched_at timestamptz           -- when it was last enriched; NULL after a load, until then
);
ALTER TABLE {loaded_days}
    -- md5 over the day's rows as the weekly views read them (record_day_contents.sql); NULL
    -- until the day is first enriched
    ADD COLUMN IF NOT EXISTS fingerprint text,
    -- when the fingerprint last changed (the first enrichment included): the day's content
    -- changed then, and every week computed before that reads the day is stale
    ADD COLUMN IF NOT EXISTS changed_at timestamptz;
