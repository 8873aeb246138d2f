-- The four weekly view tables of the engagement ELT. Idempotent: run before every computation.
-- Each table holds one partition per `week` (the Monday of the week, a local date); a week is
-- rewritten by include/sql/engagement/<view>.sql as "delete that week, insert it", the four
-- views of a week in one transaction (compute_week). Definitions (windows, NULL handling,
-- geography): include/sql/engagement/README.md.

-- Two runs creating the tables at the same moment (a backfill fanning out weeks) would race on
-- the catalogue: serialise them for the length of this transaction.
SELECT pg_advisory_xact_lock(hashtext('analytics_weekly_views_schema'));

-- Use of features: per week x structure x user type, at three grains.
CREATE TABLE IF NOT EXISTS analytics_fonctionnalites (
    week date NOT NULL,                 -- Monday of the week (local time zone)
    structure text NOT NULL,            -- the event's structure; events without one are excluded
    type_utilisateur text NOT NULL,     -- JEUNE | CONSEILLER ('NON RENSEIGNE' if missing)
    grain text NOT NULL                 -- which columns are grouped on; the others are NULL
        CHECK (grain IN ('categorie_action_nom', 'categorie_action', 'categorie')),
    categorie text,                     -- NULL: the events' categorie is NULL
    action text,                        -- NULL at the categorie grain, or the events' action is NULL
    nom text,                           -- NULL at the two coarser grains, or the events' nom is NULL
    nombre_evenements bigint NOT NULL,  -- events in the week
    nombre_utilisateurs bigint NOT NULL -- distinct id_utilisateur among them
);
-- NULL is a value here (a NULL action is its own group): NULLS NOT DISTINCT (PostgreSQL 15+).
CREATE UNIQUE INDEX IF NOT EXISTS analytics_fonctionnalites_week_key
    ON analytics_fonctionnalites (week, structure, type_utilisateur, grain, categorie, action, nom)
    NULLS NOT DISTINCT;

-- The same, restricted to the events of young people whose current or initial adviser has the
-- DEMARCHES_IA feature (feature_flip).
CREATE TABLE IF NOT EXISTS analytics_fonctionnalites_demarches_ia (
    week date NOT NULL,
    structure text NOT NULL,
    type_utilisateur text NOT NULL,     -- always JEUNE
    grain text NOT NULL
        CHECK (grain IN ('categorie_action_nom', 'categorie_action', 'categorie')),
    categorie text,
    action text,
    nom text,
    nombre_evenements bigint NOT NULL,
    nombre_utilisateurs bigint NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS analytics_fonctionnalites_demarches_ia_week_key
    ON analytics_fonctionnalites_demarches_ia (week, structure, type_utilisateur, grain, categorie, action, nom)
    NULLS NOT DISTINCT;

-- Engagement per week x structure x user type x department x region. A user counts in every
-- (structure, department, region) that their events carry inside the indicator's window, so the
-- regional figures do not add up to the national ones: see analytics_engagement_national.
-- Windows are half-open on the events' local `day`, with week_end = week + 7 days.
CREATE TABLE IF NOT EXISTS analytics_engagement (
    week date NOT NULL,
    structure text NOT NULL,                              -- 'NON RENSEIGNE' when NULL
    type_utilisateur text NOT NULL,                       -- 'NON RENSEIGNE' when NULL
    department text NOT NULL,                             -- 'NON RENSEIGNE' when NULL
    region text NOT NULL,                                 -- 'NON RENSEIGNE' when NULL
    utilisateurs_2_mois bigint NOT NULL,                  -- >= 1 event in [week_end - 2 months, week_end)
    utilisateurs_1_mois bigint NOT NULL,                  -- >= 1 event in [week_end - 1 month, week_end)
    utilisateurs_actifs_semaine bigint NOT NULL,          -- active (active_user_rule) in [week, week_end)
    utilisateurs_actifs_3_sur_6_semaines bigint NOT NULL, -- active in >= 3 of the week and the 5 before it
    utilisateurs_actifs_4_sur_6_semaines bigint NOT NULL, -- active in >= 4 of the week and the 5 before it
    PRIMARY KEY (week, structure, type_utilisateur, department, region)
);

-- The same without geography: each user counts once per (structure, user type), so national
-- figures are exact even for users who changed department.
CREATE TABLE IF NOT EXISTS analytics_engagement_national (
    week date NOT NULL,
    structure text NOT NULL,
    type_utilisateur text NOT NULL,
    utilisateurs_2_mois bigint NOT NULL,
    utilisateurs_1_mois bigint NOT NULL,
    utilisateurs_actifs_semaine bigint NOT NULL,
    utilisateurs_actifs_3_sur_6_semaines bigint NOT NULL,
    utilisateurs_actifs_4_sur_6_semaines bigint NOT NULL,
    PRIMARY KEY (week, structure, type_utilisateur)
);
