-- The tables of the clinical-audit application that bi_monthly_aggregation reads (database `app`,
-- connection postgres_app). Idempotent: the demo-data generator (`python -m scripts.demo_data bi`)
-- and the tests run it before filling the tables. A deployment whose application names its tables
-- or columns differently edits the aggregate files beside this one (one SQL file per collection);
-- nothing else in the project names them. Times are timestamptz (stored as UTC instants).

CREATE TABLE IF NOT EXISTS institution_group (
    id integer PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE IF NOT EXISTS institution (
    id integer PRIMARY KEY,
    group_id integer REFERENCES institution_group (id),
    name text NOT NULL,
    country text,
    region text,
    created_at timestamptz NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    sso_enabled boolean NOT NULL DEFAULT false,
    two_factor_required boolean NOT NULL DEFAULT false,
    password_min_length integer NOT NULL DEFAULT 8,
    session_timeout_minutes integer NOT NULL DEFAULT 30
);

CREATE TABLE IF NOT EXISTS department (
    id integer PRIMARY KEY,
    institution_id integer NOT NULL REFERENCES institution (id),
    name text NOT NULL
);

CREATE TABLE IF NOT EXISTS ward (
    id integer PRIMARY KEY,
    department_id integer NOT NULL REFERENCES department (id),
    name text NOT NULL
);

CREATE TABLE IF NOT EXISTS form (
    id integer PRIMARY KEY,
    institution_id integer NOT NULL REFERENCES institution (id),
    name text NOT NULL,
    kind text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz,
    is_active boolean NOT NULL DEFAULT true
);

CREATE TABLE IF NOT EXISTS app_user (
    id integer PRIMARY KEY,
    institution_id integer REFERENCES institution (id),
    username text NOT NULL,
    email text,
    access_level text NOT NULL CHECK (access_level IN ('global', 'group', 'institution')),
    is_staff boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    last_login timestamptz
);

CREATE TABLE IF NOT EXISTS audit_session (
    id bigint PRIMARY KEY,
    form_id integer NOT NULL REFERENCES form (id),
    user_id integer NOT NULL REFERENCES app_user (id),
    ward_id integer REFERENCES ward (id),
    started_at timestamptz NOT NULL,
    ended_at timestamptz                  -- NULL: the session was never finished
);

CREATE TABLE IF NOT EXISTS submission (
    id bigint PRIMARY KEY,
    form_id integer NOT NULL REFERENCES form (id),
    session_id bigint REFERENCES audit_session (id),
    user_id integer NOT NULL REFERENCES app_user (id),
    ward_id integer REFERENCES ward (id),
    submitted_at timestamptz NOT NULL,
    observation_count integer NOT NULL DEFAULT 0,
    compliant_count integer NOT NULL DEFAULT 0
);

-- What the aggregates' filters and joins need: time ranges, per-form and per-session lookups.
CREATE INDEX IF NOT EXISTS submission_submitted_at ON submission (submitted_at);
CREATE INDEX IF NOT EXISTS submission_form_submitted_at ON submission (form_id, submitted_at);
CREATE INDEX IF NOT EXISTS submission_session ON submission (session_id);
CREATE INDEX IF NOT EXISTS audit_session_started_at ON audit_session (started_at);
CREATE INDEX IF NOT EXISTS form_institution ON form (institution_id);
CREATE INDEX IF NOT EXISTS app_user_institution ON app_user (institution_id);
