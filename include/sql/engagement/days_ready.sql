-- Which of %(days)s (date[]) are loaded and enriched. {loaded_days} is filled in by the caller.

SELECT day
FROM {loaded_days}
WHERE day = ANY (%(days)s::date[])
  AND enriched_at IS NOT NULL
