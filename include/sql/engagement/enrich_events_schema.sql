-- Step enrich_events, schema part: the columns it fills in the analytics event table.
-- Idempotent (ADD COLUMN IF NOT EXISTS); the step runs it only when a column is missing, so
-- daily runs take no table lock. {event_table} and {day_index} (its index's name, derived from
-- it by analytics.engagement.events.event_index_names) are filled in by the caller.

ALTER TABLE {event_table}
    ADD COLUMN IF NOT EXISTS week date,        -- Monday of the event's week, local time
    ADD COLUMN IF NOT EXISTS day date,         -- the event's local date
    ADD COLUMN IF NOT EXISTS agence text,      -- agence.id of the user's adviser; NULL when unknown
    ADD COLUMN IF NOT EXISTS department text,  -- agence.code_departement; NULL when unknown
    ADD COLUMN IF NOT EXISTS region text;      -- agence.code_region; NULL when unknown

-- The weekly views select events by local day.
CREATE INDEX IF NOT EXISTS {day_index} ON {event_table} (day);
