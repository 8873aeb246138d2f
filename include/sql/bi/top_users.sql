-- top_users (snapshot): per institution, its top_users users by submissions to the institution's
-- forms in [window_start, as_of) (the top_users_window_days days ending at the interval's end).
-- sessions: audit sessions of the user on the institution's forms started in the same window.
-- Rank: submissions descending, then sessions descending, then user id. No e-mail.
-- Parameters: window_start, as_of (timestamptz), top_users, window_days (integers; window_days echoed).
WITH per_user AS (
    SELECT f.institution_id, s.user_id, count(*) AS submissions
    FROM submission AS s
    JOIN form AS f ON f.id = s.form_id
    WHERE s.submitted_at >= %(window_start)s
      AND s.submitted_at < %(as_of)s
    GROUP BY f.institution_id, s.user_id
), sessions AS (
    SELECT f.institution_id, a.user_id, count(*) AS sessions
    FROM audit_session AS a
    JOIN form AS f ON f.id = a.form_id
    WHERE a.started_at >= %(window_start)s
      AND a.started_at < %(as_of)s
    GROUP BY f.institution_id, a.user_id
), ranked AS (
    SELECT
        p.institution_id,
        p.user_id,
        p.submissions,
        coalesce(x.sessions, 0) AS sessions,
        row_number() OVER (
            PARTITION BY p.institution_id
            ORDER BY p.submissions DESC, coalesce(x.sessions, 0) DESC, p.user_id
        ) AS rank
    FROM per_user AS p
    LEFT JOIN sessions AS x ON x.institution_id = p.institution_id AND x.user_id = p.user_id
)
SELECT
    r.institution_id,
    i.name AS institution_name,
    r.rank,
    r.user_id,
    u.username,
    r.submissions,
    r.sessions,
    %(window_days)s::integer AS window_days
FROM ranked AS r
JOIN institution AS i ON i.id = r.institution_id
JOIN app_user AS u ON u.id = r.user_id
WHERE r.rank <= %(top_users)s
ORDER BY r.institution_id, r.rank
