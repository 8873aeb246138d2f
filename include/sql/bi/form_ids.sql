-- The forms of the application, in id order: bi_monthly_aggregation splits them into chunks
-- (forms_per_chunk) and computes monthly_submissions one chunk per mapped task.
SELECT id AS form_id
FROM form
ORDER BY id
