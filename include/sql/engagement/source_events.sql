-- The production events of one interval, half-open on date_evenement: what load_events copies
-- (COPY (this query) TO STDOUT) and counts. Parameters: %(start)s, %(end)s (timestamptz).
-- {event_table} and {columns} (include/config/engagement.json, analytics.engagement.events)
-- are filled in and quoted by the caller.

SELECT {columns}
FROM {event_table}
WHERE date_evenement >= %(start)s
  AND date_evenement < %(end)s
