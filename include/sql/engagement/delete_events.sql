-- Step load_events, in analytics: remove the interval's events before copying them again, in
-- the same transaction, so a rerun leaves exactly the source's rows. Half-open on
-- date_evenement. Parameters: %(start)s, %(end)s. {event_table} is filled in by the caller.

DELETE FROM {event_table}
WHERE date_evenement >= %(start)s
  AND date_evenement < %(end)s
