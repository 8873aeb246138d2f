-- Step load_events, in the load's transaction: record the local days the interval covers whole
-- as loaded and not yet enriched, with their event counts. Parameters: %(days)s (date[]),
-- %(timezone)s. {loaded_days} and {event_table} are filled in by the caller.

INSERT INTO {loaded_days} AS loaded (day, events, loaded_at, enriched_at)
SELECT
    days.day,
    (
        SELECT count(*)
        FROM {event_table} AS e
        WHERE e.date_evenement >= (days.day::timestamp AT TIME ZONE %(timezone)s)
          AND e.date_evenement < ((days.day + 1)::timestamp AT TIME ZONE %(timezone)s)
    ),
    now(),
    NULL
FROM unnest(%(days)s::date[]) AS days (day)
ON CONFLICT (day) DO UPDATE
SET events = excluded.events,
    loaded_at = excluded.loaded_at,
    enriched_at = NULL
RETURNING loaded.day, loaded.events
