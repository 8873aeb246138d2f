-- analytics_engagement for ONE week: delete the week, insert it (compute_week runs the whole
-- file inside the week's one transaction, with the other views). Parameters: %(week_start)s,
-- the Monday of the week (a date); %(active_measure)s ('events' or 'distinct_days') and
-- %(active_minimum)s (an integer), the active_user_rule of include/config/engagement.json.
-- Definitions: README.md next to this file.
--
-- Windows, half-open on the events' local `day`, with week_end = week_start + 7:
--   2 months: [week_end - 2 months, week_end)    1 month: [week_end - 1 month, week_end)
--   6 weeks:  [week_start - 35 days, week_end)   the week: [week_start, week_end)
-- Two months are at least 59 days, so the 2-month window holds all the others.
-- The bounds are written inline (a `bounds` CTE cross-joined to each step cost a few percent).
--
-- Whether a user is active (in the week, in each of the 6 weeks) is decided on ALL their events,
-- whatever structure or department those carry. A user then counts in every (structure, user
-- type, department, region) cell that one of their events carries inside the indicator's
-- window: a user who moved from one department to another counts in both here, and once in
-- analytics_engagement_national (the same query without department and region).
-- {event_table} is the configured event table (include/config/engagement.json), quoted by
-- the caller.

-- Two runs of the same week at once would collide on the primary key: serialise them.
-- compute_week has taken this same lock already, before its snapshot (a session holds it again
-- at once); it matters when the file is run on its own.
SELECT pg_advisory_xact_lock(
    hashtext('analytics_engagement'), %(week_start)s::date - date '2000-01-03'
);

DELETE FROM analytics_engagement WHERE week = %(week_start)s::date;

INSERT INTO analytics_engagement
    (week, structure, type_utilisateur, department, region,
     utilisateurs_2_mois, utilisateurs_1_mois, utilisateurs_actifs_semaine,
     utilisateurs_actifs_3_sur_6_semaines, utilisateurs_actifs_4_sur_6_semaines)
WITH window_events AS (
    SELECT
        e.id_utilisateur,
        coalesce(e.type_utilisateur, 'NON RENSEIGNE') AS type_utilisateur,
        coalesce(e.structure, 'NON RENSEIGNE') AS structure,
        coalesce(e.department, 'NON RENSEIGNE') AS department,
        coalesce(e.region, 'NON RENSEIGNE') AS region,
        e.week,
        e.day
    FROM {event_table} AS e
    WHERE e.id_utilisateur IS NOT NULL
      AND e.day >= (%(week_start)s::date + 7 - interval '2 months')::date  -- 2 months
      AND e.day < %(week_start)s::date + 7                                 -- week_end
),
-- Whether a user is active in a week, in two hash aggregates: events per user and day of the
-- 6 weeks, then per user and week. count(DISTINCT day) would sort; this was measured 12 to 16
-- percent faster on this view, with the same rows...
user_days AS (
    SELECT ev.id_utilisateur, ev.type_utilisateur, ev.week, ev.day, count(*) AS events
    FROM window_events AS ev
    WHERE ev.day >= %(week_start)s::date - 35  -- the 6 weeks
    GROUP BY ev.id_utilisateur, ev.type_utilisateur, ev.week, ev.day
),
-- ... then one row per user and week of the 6-week window in which the user is active: the
-- week's events are the sum of its days' events, its distinct days the number of its rows.
active_weeks AS (
    SELECT d.id_utilisateur, d.type_utilisateur, d.week
    FROM user_days AS d
    GROUP BY d.id_utilisateur, d.type_utilisateur, d.week
    HAVING CASE %(active_measure)s::text
               WHEN 'events' THEN sum(d.events)
               WHEN 'distinct_days' THEN count(*)
           END >= %(active_minimum)s::integer
),
user_activity AS (
    SELECT
        a.id_utilisateur,
        a.type_utilisateur,
        bool_or(a.week = %(week_start)s::date) AS active_this_week,
        count(*) AS active_weeks_of_6
    FROM active_weeks AS a
    GROUP BY a.id_utilisateur, a.type_utilisateur
),
-- One row per user and cell their events carry, with the windows in which they carry it.
user_cells AS (
    SELECT
        ev.id_utilisateur,
        ev.type_utilisateur,
        ev.structure,
        ev.department,
        ev.region,
        bool_or(ev.day >= (%(week_start)s::date + 7 - interval '1 month')::date) AS seen_in_1_month,
        bool_or(ev.day >= %(week_start)s::date - 35) AS seen_in_6_weeks,
        bool_or(ev.day >= %(week_start)s::date) AS seen_in_week
    FROM window_events AS ev
    GROUP BY ev.id_utilisateur, ev.type_utilisateur, ev.structure, ev.department, ev.region
)
SELECT
    %(week_start)s::date,
    c.structure,
    c.type_utilisateur,
    c.department,
    c.region,
    count(*),
    count(*) FILTER (WHERE c.seen_in_1_month),
    count(*) FILTER (WHERE c.seen_in_week AND a.active_this_week),
    count(*) FILTER (WHERE c.seen_in_6_weeks AND a.active_weeks_of_6 >= 3),
    count(*) FILTER (WHERE c.seen_in_6_weeks AND a.active_weeks_of_6 >= 4)
FROM user_cells AS c
LEFT JOIN user_activity AS a USING (id_utilisateur, type_utilisateur)
GROUP BY c.structure, c.type_utilisateur, c.department, c.region;
