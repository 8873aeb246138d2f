-- Step load_events, only when the direct COPY of a day met an event that analytics holds under
-- another day (elt._take_over_moved_events): the temporary table the day's rows from production
-- are copied into (binary COPY: the columns of the analytics event table, so the types are
-- identical) before they replace the day in analytics. Dropped at the latest at commit.
-- {incoming}, {columns} and {event_table} are filled in by the caller.

CREATE TEMPORARY TABLE {incoming} ON COMMIT DROP AS
SELECT {columns} FROM {event_table}
WITH NO DATA
