-- quarterly_form_churn: one row per institution with a form active in the quarter or the one before.
-- A form is active in a quarter when it has at least one submission in it ([start, end) on
-- submitted_at). Retained: active in both; new: active now, not before; churned: active before,
-- not now; churn_rate: churned / previously active, NULL when none was.
-- Parameters: previous_start, period_start, period_end (timestamptz: the quarter before starts at
-- previous_start, this one at period_start and ends at period_end).
WITH per_form AS (
    SELECT
        s.form_id,
        bool_or(s.submitted_at >= %(period_start)s) AS active_now,
        bool_or(s.submitted_at < %(period_start)s) AS active_before
    FROM submission AS s
    WHERE s.submitted_at >= %(previous_start)s
      AND s.submitted_at < %(period_end)s
    GROUP BY s.form_id
), per_institution AS (
    SELECT
        f.institution_id,
        count(*) FILTER (WHERE p.active_now) AS active_forms,
        count(*) FILTER (WHERE p.active_before) AS previous_active_forms,
        count(*) FILTER (WHERE p.active_now AND p.active_before) AS retained_forms,
        count(*) FILTER (WHERE p.active_now AND NOT p.active_before) AS new_forms,
        count(*) FILTER (WHERE p.active_before AND NOT p.active_now) AS churned_forms
    FROM per_form AS p
    JOIN form AS f ON f.id = p.form_id
    GROUP BY f.institution_id
)
SELECT
    c.institution_id,
    i.name AS institution_name,
    c.active_forms,
    c.previous_active_forms,
    c.retained_forms,
    c.new_forms,
    c.churned_forms,
    c.churned_forms::float8 / nullif(c.previous_active_forms, 0) AS churn_rate
FROM per_institution AS c
JOIN institution AS i ON i.id = c.institution_id
ORDER BY c.institution_id
