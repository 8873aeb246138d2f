-- monthly_sessions: one row per (institution, form) with audit sessions started in the month
-- ([period_start, period_end) on started_at). Completed: ended_at is set; durations (minutes) are
-- those of completed sessions only. Without submission: no submission names the session.
-- Parameters: period_start, period_end (timestamptz).
WITH sessions AS (
    SELECT
        a.form_id,
        a.user_id,
        a.ended_at IS NOT NULL AS completed,
        (extract(epoch FROM a.ended_at - a.started_at) / 60.0)::float8 AS duration_minutes,
        NOT EXISTS (SELECT 1 FROM submission AS s WHERE s.session_id = a.id) AS without_submission
    FROM audit_session AS a
    WHERE a.started_at >= %(period_start)s
      AND a.started_at < %(period_end)s
), per_form AS (
    SELECT
        form_id,
        count(*) AS sessions_started,
        count(*) FILTER (WHERE completed) AS sessions_completed,
        count(*) FILTER (WHERE without_submission) AS sessions_without_submission,
        count(DISTINCT user_id) AS users,
        avg(duration_minutes) FILTER (WHERE completed) AS mean_duration_minutes,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_minutes)
            FILTER (WHERE completed) AS median_duration_minutes
    FROM sessions
    GROUP BY form_id
)
SELECT
    f.institution_id,
    i.name AS institution_name,
    p.form_id,
    f.name AS form_name,
    p.sessions_started,
    p.sessions_completed,
    p.sessions_without_submission,
    p.users,
    p.mean_duration_minutes,
    p.median_duration_minutes
FROM per_form AS p
JOIN form AS f ON f.id = p.form_id
JOIN institution AS i ON i.id = f.institution_id
ORDER BY f.institution_id, p.form_id
