-- analytics_fonctionnalites for ONE week: delete the week, insert it (compute_week runs the whole
-- file inside the week's one transaction, with the other views). Parameter: %(week_start)s, the
-- Monday of the week (a date).
-- Events are taken on their local `day`, half-open: week_start <= day < week_start + 7, so an
-- event at Monday 00:00 local belongs to the week that starts that Monday only.
-- {event_table} is the configured event table (include/config/engagement.json), quoted by
-- the caller.

-- Two runs of the same week at once would collide on the unique key: serialise them.
-- compute_week has taken this same lock already, before its snapshot (a session holds it again
-- at once); it matters when the file is run on its own.
SELECT pg_advisory_xact_lock(
    hashtext('analytics_fonctionnalites'), %(week_start)s::date - date '2000-01-03'
);

DELETE FROM analytics_fonctionnalites WHERE week = %(week_start)s::date;

-- One pass, three grains (GROUPING SETS): an event whose action or nom is NULL is its own group
-- at the fine grains and still counts at the coarser ones; GROUPING() tells a rolled-up column
-- apart from a NULL value.
INSERT INTO analytics_fonctionnalites
    (week, structure, type_utilisateur, grain, categorie, action, nom, nombre_evenements, nombre_utilisateurs)
SELECT
    %(week_start)s::date,
    e.structure,
    coalesce(e.type_utilisateur, 'NON RENSEIGNE'),
    CASE
        WHEN GROUPING(e.action) = 1 THEN 'categorie'
        WHEN GROUPING(e.nom) = 1 THEN 'categorie_action'
        ELSE 'categorie_action_nom'
    END,
    e.categorie,
    e.action,
    e.nom,
    count(*),
    count(DISTINCT e.id_utilisateur)
FROM {event_table} AS e
WHERE e.day >= %(week_start)s::date
  AND e.day < %(week_start)s::date + 7
  AND e.structure IS NOT NULL
GROUP BY
    e.structure,
    coalesce(e.type_utilisateur, 'NON RENSEIGNE'),
    GROUPING SETS ((e.categorie, e.action, e.nom), (e.categorie, e.action), (e.categorie));
