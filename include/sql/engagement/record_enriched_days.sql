-- Step enrich_events, in the enrichment's transaction: stamp the loaded days it enriched.
-- A day never loaded stays unrecorded. Parameter: %(days)s (date[]). {loaded_days} is filled
-- in by the caller.

UPDATE {loaded_days}
SET enriched_at = now()
WHERE day = ANY (%(days)s::date[])
RETURNING day
