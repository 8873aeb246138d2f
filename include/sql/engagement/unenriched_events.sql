-- compute_week, before any view: the events a week may read that have no day or week yet
-- (enrich_events has not run on them). Parameters: %(window_start)s, %(window_end)s (UTC
-- instants, weekly_views.read_window). {event_table} is filled in by the caller.

SELECT count(*), min(date_evenement), max(date_evenement)
FROM {event_table}
WHERE date_evenement >= %(window_start)s
  AND date_evenement < %(window_end)s
  AND (day IS NULL OR week IS NULL)
