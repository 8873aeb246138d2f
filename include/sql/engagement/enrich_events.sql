-- Step enrich_events: week, day and geography of one interval's events, in analytics.
-- Parameters: %(start)s, %(end)s (the interval, half-open on date_evenement) and %(timezone)s
-- (IANA name, e.g. 'Europe/Paris'). {event_table} is filled in by the caller.
--
-- week = Monday of the event's week and day = its date, both in local time.
-- Geography comes from the reference tables copied from production by copy_production, as
-- they are when the step runs: a CONSEILLER event takes its adviser's agence; a JEUNE event
-- takes the agence of the young person's current adviser (jeune.id_conseiller ->
-- conseiller.id_agence -> agence). Anything missing on the way leaves agence, department and
-- region NULL, and the row's geography_status names what was missing.
--
-- Rows whose values are already right are not rewritten (a rerun changes nothing). Returns one
-- row per geography_status: events in the interval, and events rewritten.

WITH resolved AS (
    SELECT
        e.id,
        (date_trunc('week', e.date_evenement AT TIME ZONE %(timezone)s))::date AS week,
        (e.date_evenement AT TIME ZONE %(timezone)s)::date AS day,
        c.id_agence AS agence,
        a.code_departement AS department,
        a.code_region AS region,
        CASE
            WHEN e.type_utilisateur NOT IN ('JEUNE', 'CONSEILLER') THEN 'unknown user type'
            WHEN e.type_utilisateur = 'JEUNE' AND j.id IS NULL THEN 'unknown young person'
            WHEN e.type_utilisateur = 'JEUNE' AND j.id_conseiller IS NULL THEN 'young person without adviser'
            WHEN c.id IS NULL THEN 'unknown adviser'
            WHEN c.id_agence IS NULL THEN 'adviser without agence'
            WHEN a.id IS NULL THEN 'unknown agence'
            ELSE 'resolved'
        END AS geography_status
    FROM {event_table} AS e
    LEFT JOIN jeune AS j
        ON e.type_utilisateur = 'JEUNE' AND j.id = e.id_utilisateur
    LEFT JOIN conseiller AS c
        ON c.id = CASE e.type_utilisateur
                      WHEN 'CONSEILLER' THEN e.id_utilisateur
                      WHEN 'JEUNE' THEN j.id_conseiller
                  END
    LEFT JOIN agence AS a
        ON a.id = c.id_agence
    WHERE e.date_evenement >= %(start)s
      AND e.date_evenement < %(end)s
),
updated AS (
    UPDATE {event_table} AS e
    SET week = r.week,
        day = r.day,
        agence = r.agence,
        department = r.department,
        region = r.region
    FROM resolved AS r
    WHERE e.id = r.id
      AND (e.week, e.day, e.agence, e.department, e.region)
          IS DISTINCT FROM (r.week, r.day, r.agence, r.department, r.region)
    RETURNING e.id
)
SELECT r.geography_status, count(*) AS events, count(u.id) AS rewritten
FROM resolved AS r
LEFT JOIN updated AS u ON u.id = r.id
GROUP BY r.geography_status
ORDER BY r.geography_status
