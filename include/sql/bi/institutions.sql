-- institutions (snapshot): one row per institution created before as_of. users and forms: those
-- created before as_of; recent_submissions: submissions to its forms in [recent_start, as_of) (the
-- last institution_recent_days days of the interval); last_submission_at: its latest before as_of.
-- Parameters: as_of, recent_start (timestamptz), recent_days (integer: the window's length, echoed).
WITH users AS (
    SELECT institution_id, count(*) AS users
    FROM app_user
    WHERE created_at < %(as_of)s
    GROUP BY institution_id
), forms AS (
    SELECT institution_id, count(*) AS forms
    FROM form
    WHERE created_at < %(as_of)s
    GROUP BY institution_id
), recent AS (
    SELECT f.institution_id, count(*) AS recent_submissions
    FROM submission AS s
    JOIN form AS f ON f.id = s.form_id
    WHERE s.submitted_at >= %(recent_start)s
      AND s.submitted_at < %(as_of)s
    GROUP BY f.institution_id
), latest AS (
    -- The latest submission of each form, one index probe per form (submission (form_id, submitted_at)).
    SELECT f.institution_id, max(l.submitted_at) AS last_submission_at
    FROM form AS f
    CROSS JOIN LATERAL (
        SELECT s.submitted_at
        FROM submission AS s
        WHERE s.form_id = f.id AND s.submitted_at < %(as_of)s
        ORDER BY s.submitted_at DESC
        LIMIT 1
    ) AS l
    GROUP BY f.institution_id
)
SELECT
    i.id AS institution_id,
    i.name AS institution_name,
    i.group_id,
    g.name AS group_name,
    i.country,
    i.region,
    i.created_at,
    i.is_active AS active,
    coalesce(u.users, 0) AS users,
    coalesce(fo.forms, 0) AS forms,
    coalesce(r.recent_submissions, 0) AS recent_submissions,
    %(recent_days)s::integer AS recent_days,
    l.last_submission_at
FROM institution AS i
LEFT JOIN institution_group AS g ON g.id = i.group_id
LEFT JOIN users AS u ON u.institution_id = i.id
LEFT JOIN forms AS fo ON fo.institution_id = i.id
LEFT JOIN recent AS r ON r.institution_id = i.id
LEFT JOIN latest AS l ON l.institution_id = i.id
WHERE i.created_at < %(as_of)s
ORDER BY i.id
