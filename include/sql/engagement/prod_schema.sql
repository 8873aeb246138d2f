-- The production schema the engagement ELT reads (database `prod`). Idempotent: the demo-data
-- generator (`python -m scripts.demo_data engagement`) runs it before filling the tables.
-- Reference tables, copied to analytics every day by copy_production (pg_dump | pg_restore):
--   agence, conseiller, jeune, feature_flip.
-- Never copied whole (tables_not_copied in include/config/engagement.json):
--   evenement_engagement (loaded one day at a time by load_events), log_api_partenaire, log_job.

CREATE TABLE IF NOT EXISTS agence (
    id text PRIMARY KEY,
    nom_agence text,
    code_departement text,             -- '75', '2A', '971'; NULL when unknown
    code_region text                   -- INSEE region code; NULL when unknown
);

CREATE TABLE IF NOT EXISTS conseiller (
    id text PRIMARY KEY,
    id_agence text REFERENCES agence (id),   -- NULL: the adviser has not chosen an agence
    email text,
    structure text,
    dispositif text
);

CREATE TABLE IF NOT EXISTS jeune (
    id text PRIMARY KEY,
    id_conseiller text,                -- the current adviser (NULL: none)
    id_conseiller_initial text,        -- the first adviser; differs after a transfer
    structure text,
    dispositif text
);

CREATE TABLE IF NOT EXISTS feature_flip (
    id serial PRIMARY KEY,
    feature_tag text NOT NULL,         -- e.g. 'DEMARCHES_IA'
    email_conseiller text NOT NULL
);

CREATE TABLE IF NOT EXISTS evenement_engagement (
    id bigint PRIMARY KEY,
    date_evenement timestamptz NOT NULL,
    categorie text,
    action text,
    nom text,
    id_utilisateur text NOT NULL,
    type_utilisateur text NOT NULL,    -- 'JEUNE' | 'CONSEILLER'
    structure text,
    code text
);
CREATE INDEX IF NOT EXISTS evenement_engagement_date_evenement_idx ON evenement_engagement (date_evenement);

-- Logs: large, operational, personal data; never leave production.
CREATE TABLE IF NOT EXISTS log_api_partenaire (
    id bigserial PRIMARY KEY,
    date timestamptz NOT NULL,
    id_utilisateur text,
    type_utilisateur text,
    partenaire text NOT NULL,
    methode text NOT NULL,
    chemin text NOT NULL,
    statut integer NOT NULL,
    duree_ms integer NOT NULL
);

CREATE TABLE IF NOT EXISTS log_job (
    id serial PRIMARY KEY,
    job_type text NOT NULL,
    date_debut timestamptz NOT NULL,
    date_fin timestamptz,
    succes boolean NOT NULL,
    resultat jsonb
);
