-- The event table in analytics (step load_events creates it when missing; the production copy
-- leaves it out). Idempotent. {event_table} is the configured event table
-- (include/config/engagement.json) and {date_index} its index's name, derived from it
-- (analytics.engagement.events.event_index_names), both quoted by the caller.
-- The columns and their types are production's (include/sql/engagement/prod_schema.sql): the
-- load streams COPY in binary format, which needs identical types. enrich_events_schema.sql
-- adds week, day, agence, department and region.

CREATE TABLE IF NOT EXISTS {event_table} (
    id bigint PRIMARY KEY,
    date_evenement timestamptz NOT NULL,
    categorie text,
    action text,
    nom text,
    id_utilisateur text NOT NULL,
    type_utilisateur text NOT NULL,
    structure text,
    code text
);
-- load_events deletes and enrich_events updates one interval of date_evenement.
CREATE INDEX IF NOT EXISTS {date_index} ON {event_table} (date_evenement);
