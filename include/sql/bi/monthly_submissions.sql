-- monthly_submissions: one row per (institution, form) with submissions in the month, for the forms
-- of one chunk. A submission belongs to the month of its submitted_at: [period_start, period_end),
-- so one at 00:00 on the 1st is the new month's. The form's institution is the submission's.
-- Parameters: period_start, period_end (timestamptz), form_ids (integer[]).
WITH per_form AS (
    SELECT
        s.form_id,
        count(*) AS submissions,
        coalesce(sum(s.observation_count), 0) AS observations,
        coalesce(sum(s.compliant_count), 0) AS compliant_observations,
        count(DISTINCT s.user_id) AS users,
        count(DISTINCT s.ward_id) AS wards
    FROM submission AS s
    WHERE s.submitted_at >= %(period_start)s
      AND s.submitted_at < %(period_end)s
      AND s.form_id = ANY (%(form_ids)s)
    GROUP BY s.form_id
)
SELECT
    f.institution_id,
    i.name AS institution_name,
    p.form_id,
    f.name AS form_name,
    p.submissions,
    p.observations,
    p.compliant_observations,
    p.compliant_observations::float8 / nullif(p.observations, 0) AS compliance_rate,
    p.users,
    p.wards
FROM per_form AS p
JOIN form AS f ON f.id = p.form_id
JOIN institution AS i ON i.id = f.institution_id
ORDER BY f.institution_id, p.form_id
