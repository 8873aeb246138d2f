-- The load log's record of what some local days hold: their event count and a fingerprint of
-- their rows, as the weekly views read them (every column, date_evenement as its epoch and the
-- dates as numbers, so the text does not depend on the session's TimeZone or DateStyle).
-- changed_at moves only when the fingerprint does: reloading identical rows changes nothing.
-- Run by enrich_events for the days it enriched (%(enriched)s true: enriched_at is stamped), and
-- by load_events for the days that events moved away from (%(enriched)s false). A day with no
-- event gets the fingerprint 'empty'; a day not in the log stays out of it.
-- Parameters: %(days)s (date[], local days whose rows all lie in [%(start)s, %(end)s)),
-- %(start)s, %(end)s, %(timezone)s, %(enriched)s. {loaded_days} and {event_table} are filled in
-- by the caller. Returns each day recorded, its events, and whether its content changed.

WITH contents AS (
    SELECT
        (e.date_evenement AT TIME ZONE %(timezone)s)::date AS day,
        count(*) AS events,
        md5(string_agg(
            md5(ROW(
                e.id, extract(epoch FROM e.date_evenement), e.categorie, e.action, e.nom,
                e.id_utilisateur, e.type_utilisateur, e.structure, e.code,
                e.week - DATE '2000-01-03', e.day - DATE '2000-01-03', e.agence, e.department, e.region
            )::text),
            '' ORDER BY e.id
        )) AS fingerprint
    FROM {event_table} AS e
    WHERE e.date_evenement >= %(start)s
      AND e.date_evenement < %(end)s
    GROUP BY 1
),
days AS (
    SELECT d.day, coalesce(c.events, 0) AS events, coalesce(c.fingerprint, 'empty') AS fingerprint
    FROM unnest(%(days)s::date[]) AS d (day)
    LEFT JOIN contents AS c USING (day)
)
UPDATE {loaded_days} AS logged
SET events = days.events,
    fingerprint = days.fingerprint,
    changed_at = CASE
        WHEN logged.fingerprint IS DISTINCT FROM days.fingerprint THEN now()
        ELSE logged.changed_at
    END,
    enriched_at = CASE WHEN %(enriched)s THEN now() ELSE logged.enriched_at END
FROM days
WHERE logged.day = days.day
RETURNING logged.day, logged.events, logged.changed_at = now()
