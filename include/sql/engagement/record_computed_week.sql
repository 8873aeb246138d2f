-- compute_week, last statement of the week's transaction (after its four views): record when
-- the week was computed and the fingerprint of the window it read, in the same snapshot.
-- Parameters: %(week_start)s (the Monday), %(rows_written)s (jsonb, rows per view).
-- {computed_weeks} is filled in by the caller; the functions are computed_weeks_schema.sql's.

INSERT INTO {computed_weeks} AS c (week, computed_at, window_fingerprint, days_in_window, rows_written)
SELECT
    %(week_start)s::date,
    now(),
    engagement_window_fingerprint(%(week_start)s::date),
    (SELECT count(*) FROM engagement_window_days(%(week_start)s::date)),
    %(rows_written)s::jsonb
ON CONFLICT (week) DO UPDATE
SET computed_at = excluded.computed_at,
    window_fingerprint = excluded.window_fingerprint,
    days_in_window = excluded.days_in_window,
    rows_written = excluded.rows_written
