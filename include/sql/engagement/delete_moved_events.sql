-- Step load_events, after delete_events.sql and before the insert, in the load's transaction:
-- remove the events that the interval brings in but that analytics still holds under another
-- day (their date_evenement was changed in production). The interval's own rows are gone
-- already, so whatever matches here lies outside the interval. Returns the local day each one
-- leaves, so the load log can count that day again. Parameter: %(timezone)s. {event_table}
-- and {incoming} (the temporary table of the interval's rows from the source) are filled in
-- by the caller.

DELETE FROM {event_table} AS e
USING {incoming} AS i
WHERE e.id = i.id
RETURNING (e.date_evenement AT TIME ZONE %(timezone)s)::date
