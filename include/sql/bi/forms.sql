-- forms (snapshot): the form catalogue, forms created before as_of: institution, kind, created,
-- updated, active, submissions before as_of (all time) and the latest of them.
-- Parameters: as_of (timestamptz).
WITH per_form AS (
    SELECT form_id, count(*) AS submissions, max(submitted_at) AS last_submission_at
    FROM submission
    WHERE submitted_at < %(as_of)s
    GROUP BY form_id
)
SELECT
    f.id AS form_id,
    f.name AS form_name,
    f.institution_id,
    i.name AS institution_name,
    f.kind,
    f.created_at,
    f.updated_at,
    f.is_active AS active,
    coalesce(p.submissions, 0) AS submissions,
    p.last_submission_at
FROM form AS f
JOIN institution AS i ON i.id = f.institution_id
LEFT JOIN per_form AS p ON p.form_id = f.id
WHERE f.created_at < %(as_of)s
ORDER BY f.id
