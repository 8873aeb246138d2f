-- Step load_events, in the load's transaction: record the local days the interval covers whole
-- as loaded and not yet enriched, with their event counts (one pass over the interval's rows).
-- Parameters: %(days)s (date[], inside the interval), %(start)s, %(end)s (the interval),
-- %(timezone)s. {loaded_days} and {event_table} are filled in by the caller.

INSERT INTO {loaded_days} AS loaded (day, events, loaded_at, enriched_at)
SELECT days.day, coalesce(counts.events, 0), now(), NULL
FROM unnest(%(days)s::date[]) AS days (day)
LEFT JOIN (
    SELECT (e.date_evenement AT TIME ZONE %(timezone)s)::date AS day, count(*) AS events
    FROM {event_table} AS e
    WHERE e.date_evenement >= %(start)s
      AND e.date_evenement < %(end)s
    GROUP BY 1
) AS counts USING (day)
ON CONFLICT (day) DO UPDATE
SET events = excluded.events,
    loaded_at = excluded.loaded_at,
    enriched_at = NULL
RETURNING loaded.day, loaded.events
