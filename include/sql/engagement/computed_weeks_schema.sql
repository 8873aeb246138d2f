-- When each week of the weekly views was computed, and from what: engagement_computed_weeks,
-- written by compute_week in the week's transaction. A computed week is stale when a day of its
-- window changed since: the load log's fingerprints of those days (as they are now) no longer
-- give the window fingerprint recorded with the week (as compute_week's snapshot read them).
-- "Stale" is the view engagement_stale_weeks. Idempotent; needs the load log
-- (loaded_days_schema.sql) first. {loaded_days}, {computed_weeks} and {stale_weeks} are filled
-- in by the caller. Not production objects: copy_production's pg_restore --clean never touches them.

-- Creating the functions and the view at the same moment in two sessions would race on the
-- catalogue: serialise them for the length of this transaction.
SELECT pg_advisory_xact_lock(hashtext('engagement_computed_weeks_schema'));

CREATE TABLE IF NOT EXISTS {computed_weeks} (
    week date PRIMARY KEY,              -- Monday of the week (local time zone)
    computed_at timestamptz NOT NULL,   -- start of the transaction that wrote its four views
    window_fingerprint text NOT NULL,   -- engagement_window_fingerprint(week) in that transaction
    days_in_window integer NOT NULL,    -- days of its window in the load log then
    rows_written jsonb NOT NULL         -- rows written per view
);

-- The load log's days a week's views read: its widest window, the 2 months up to the end of
-- the week, [week + 7 - 2 months, week + 7), half-open on the local day, exactly as in
-- analytics_engagement.sql and analytics_engagement_national.sql (the other windows lie inside it).
CREATE OR REPLACE FUNCTION engagement_window_days(week date) RETURNS SETOF {loaded_days}
LANGUAGE sql STABLE AS $$
    SELECT *
    FROM {loaded_days} AS d
    WHERE d.day >= (week + 7 - interval '2 months')::date
      AND d.day < week + 7
$$;

-- One md5 over the window's days and their fingerprints: any day added, dropped or changed
-- changes it. A day loaded but never enriched counts with a NULL fingerprint.
CREATE OR REPLACE FUNCTION engagement_window_fingerprint(week date) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT md5(coalesce(
        string_agg(d.day::text || '=' || coalesce(d.fingerprint, '?'), ',' ORDER BY d.day), ''
    ))
    FROM engagement_window_days(week) AS d
$$;

-- The computed weeks whose window changed since they were computed, oldest first, with the
-- days of their window that changed after computed_at (empty when the change committed while
-- the week was being computed, after its snapshot: the fingerprints still tell).
CREATE OR REPLACE VIEW {stale_weeks} AS
SELECT
    c.week,
    c.computed_at,
    ARRAY(
        SELECT d.day FROM engagement_window_days(c.week) AS d
        WHERE d.changed_at > c.computed_at
        ORDER BY d.day
    ) AS changed_days
FROM {computed_weeks} AS c
WHERE engagement_window_fingerprint(c.week) IS DISTINCT FROM c.window_fingerprint;
