-- security_risk_clients (snapshot): institutions created before as_of with at least one risk flag.
-- no_two_factor: two-factor authentication not required; no_sso: single sign-on not enabled;
-- weak_password_policy: minimum password length under minimum_password_length;
-- long_session_timeout: session timeout over maximum_session_timeout_minutes;
-- many_global_users: more than maximum_global_user_share of its users (created before as_of) have
-- access_level 'global'. Thresholds come from include/config/bi.json (risk_thresholds).
-- Parameters: as_of (timestamptz), minimum_password_length, maximum_session_timeout_minutes
-- (integers), maximum_global_user_share (a share: 0.1 is one in ten).
WITH users AS (
    SELECT
        institution_id,
        count(*) AS users,
        count(*) FILTER (WHERE access_level = 'global') AS global_users
    FROM app_user
    WHERE created_at < %(as_of)s
    GROUP BY institution_id
), flagged AS (
    SELECT
        i.id AS institution_id,
        i.name AS institution_name,
        i.group_id,
        g.name AS group_name,
        i.country,
        i.region,
        i.is_active AS active,
        i.two_factor_required,
        i.sso_enabled,
        i.password_min_length,
        i.session_timeout_minutes,
        coalesce(u.users, 0) AS users,
        coalesce(u.global_users, 0) AS global_users,
        NOT coalesce(i.two_factor_required, false) AS no_two_factor,
        NOT coalesce(i.sso_enabled, false) AS no_sso,
        coalesce(i.password_min_length, 0) < %(minimum_password_length)s AS weak_password_policy,
        coalesce(i.session_timeout_minutes, 0) > %(maximum_session_timeout_minutes)s AS long_session_timeout,
        coalesce(u.global_users, 0) > %(maximum_global_user_share)s * coalesce(u.users, 0) AS many_global_users
    FROM institution AS i
    LEFT JOIN institution_group AS g ON g.id = i.group_id
    LEFT JOIN users AS u ON u.institution_id = i.id
    WHERE i.created_at < %(as_of)s
)
SELECT *
FROM flagged
WHERE no_two_factor OR no_sso OR weak_password_policy OR long_session_timeout OR many_global_users
ORDER BY institution_id
