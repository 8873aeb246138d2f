-- The computed weeks whose window changed since they were computed (computed_weeks_schema.sql's
-- view), oldest first: what the daily DAG's find_stale_weeks recomputes. {stale_weeks} is
-- filled in by the caller.

SELECT week, computed_at, changed_days
FROM {stale_weeks}
ORDER BY week
