-- Step load_events, after delete_events.sql and delete_moved_events.sql: the interval's rows
-- from production (copied into the temporary table {incoming}) into the analytics event table.
-- The rows inserted are checked against the number copied. {event_table}, {incoming} and
-- {columns} are filled in by the caller.

INSERT INTO {event_table} ({columns})
SELECT {columns}
FROM {incoming}
