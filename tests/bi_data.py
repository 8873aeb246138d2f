"""A small, hand-written clinical-audit application for the BI aggregation tests, and its databases.

Every expected number in ``tests/integration/test_bi_aggregation.py`` and the DAG tests is counted
by hand from the rows below (times UTC). Three institutions in two groups:

- 1 Alpha Hospital (group 1): forms f1, f2, f7; 10 users (1 global: exactly 10 %, not over);
  two-factor, SSO, password 12 and timeout 60 (all on the thresholds: no flag).
- 2 Beta Clinic (group 1): forms f3, f4 (inactive); users b1, b2 (global: 50 %); no two-factor, no SSO.
- 3 Gamma Care (group 2, inactive): forms f5, f6, f8 (f8 created 2024-05-01); user c1, and c2
  (global) created 2024-04-15; password 11 (weak), timeout 61 (long).

Edges: s5 and sess4 at 2024-03-01 00:00 (March, not February), s3 at 2024-02-29 23:59:59.999999
(February), s10 and sess8 at 2024-04-01 00:00 (April, not March: f6's only submission), s15 at
2024-01-01 00:00 (Q1, not Q4: f7's only submission), s13 at 2023-10-01 00:00 (Q4), s14 at
2023-09-30 23:59:59 (Q3), s12 at 2023-12-31 23:59:59 (Q4).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg

APP_CONN_ID = "bi_test_app"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CREATED = utc("2023-01-01 00:00")
GROUPS = [(1, "North"), (2, "South")]
# id, group, name, country, region, created, active, sso, two factor, password length, timeout
INSTITUTIONS = [
    (1, 1, "Alpha Hospital", "FR", "IDF", utc("2023-01-01 00:00"), True, True, True, 12, 60),
    (2, 1, "Beta Clinic", "FR", "ARA", utc("2023-06-01 00:00"), True, False, False, 12, 30),
    (3, 2, "Gamma Care", "BE", "BRU", utc("2023-09-01 00:00"), False, True, True, 11, 61),
]
DEPARTMENTS = [(1, 1, "Medicine"), (2, 2, "Surgery"), (3, 3, "Geriatrics")]
WARDS = [(1, 1, "W1"), (2, 1, "W2"), (3, 2, "W3"), (4, 3, "W4")]
# id, institution, name, kind, created, updated, active
FORMS = [
    (1, 1, "Hand hygiene", "audit", utc("2023-01-10 00:00"), utc("2024-01-05 00:00"), True),
    (2, 1, "Falls", "audit", utc("2023-02-01 00:00"), None, True),
    (3, 2, "Pressure ulcers", "survey", utc("2023-06-10 00:00"), None, True),
    (4, 2, "Medication", "audit", utc("2023-06-11 00:00"), utc("2023-12-01 00:00"), False),
    (5, 3, "Sepsis", "audit", utc("2023-09-05 00:00"), None, True),
    (6, 3, "Nutrition", "survey", utc("2023-09-06 00:00"), None, True),
    (7, 1, "Catheter", "audit", utc("2023-03-01 00:00"), None, True),
    (8, 3, "Later form", "audit", utc("2024-05-01 00:00"), None, True),
]
A1, A2, A3, A4, A5 = 1, 2, 3, 4, 5
B1, B2, C1, C2 = 11, 12, 13, 14
# id, institution, username, email, access level, staff, created, last login
USERS = [
    (A1, 1, "alice", "alice@alpha.example", "global", True, CREATED, None),
    (A2, 1, "bob", "bob@alpha.example", "institution", False, CREATED, None),
    (A3, 1, "carol", "carol@alpha.example", "institution", False, CREATED, None),
    (A4, 1, "dave", "dave@alpha.example", "group", False, CREATED, None),
    (A5, 1, "erin", "erin@alpha.example", "institution", False, CREATED, None),
    *[(number, 1, f"alpha{number}", None, "institution", False, CREATED, None) for number in range(6, 11)],
    (B1, 2, "frank", "frank@beta.example", "institution", False, CREATED, None),
    (B2, 2, "grace", "grace@beta.example", "global", False, CREATED, None),
    (C1, 3, "heidi", "heidi@gamma.example", "institution", False, CREATED, None),
    (C2, 3, "ivan", "ivan@gamma.example", "global", False, utc("2024-04-15 00:00"), None),
]
# id, form, user, ward, started, ended (None: never finished)
SESSIONS = [
    (1, 1, A2, 1, utc("2024-02-05 09:55"), utc("2024-02-05 10:35")),  # 40 min
    (2, 1, A3, 2, utc("2024-02-29 23:50"), utc("2024-03-01 00:10")),  # 20 min, started in February
    (3, 3, B1, 3, utc("2024-02-10 08:50"), None),
    (4, 1, A2, 1, utc("2024-03-01 00:00"), utc("2024-03-01 00:30")),  # 30 min, March
    (5, 2, A3, 2, utc("2024-03-15 11:50"), utc("2024-03-15 12:50")),  # 60 min
    (6, 5, C1, 4, utc("2024-03-20 07:50"), utc("2024-03-20 08:05")),  # 15 min
    (7, 2, A4, 1, utc("2024-03-31 23:50"), None),
    (8, 1, A2, 1, utc("2024-04-01 00:00"), utc("2024-04-01 00:05")),  # April
    (9, 1, A2, 1, utc("2023-11-10 09:50"), utc("2023-11-10 10:10")),
    (10, 3, B1, 3, utc("2023-12-31 23:30"), utc("2024-01-01 00:30")),
    (11, 4, B2, 3, utc("2023-10-01 00:00"), utc("2023-10-01 00:20")),
    (12, 5, C1, 4, utc("2023-09-30 23:00"), utc("2023-09-30 23:59:59")),
    (13, 2, A3, 2, utc("2024-03-10 10:00"), utc("2024-03-10 10:10")),  # 10 min, no submission
    (14, 1, A2, 1, utc("2024-02-20 10:00"), None),  # no submission, never finished
    (15, 7, A5, 1, utc("2024-01-01 00:00"), utc("2024-01-01 00:10")),
    (16, 2, A3, 2, utc("2024-03-12 10:00"), utc("2024-03-12 10:50")),  # 50 min, no submission
]
# id, form, session, user, ward, submitted, observations, compliant
SUBMISSIONS = [
    (1, 1, 1, A2, 1, utc("2024-02-05 10:00"), 10, 8),
    (2, 1, 1, A2, 1, utc("2024-02-05 10:30"), 5, 5),
    (3, 1, 2, A3, 2, utc("2024-02-29 23:59:59.999999"), 4, 1),
    (4, 3, 3, B1, 3, utc("2024-02-10 09:00"), 6, 3),
    (5, 1, 4, A2, 1, utc("2024-03-01 00:00"), 2, 2),
    (6, 2, 5, A3, 2, utc("2024-03-15 12:00"), 10, 7),
    (7, 2, 5, A3, 2, utc("2024-03-15 12:20"), 0, 0),
    (8, 5, 6, C1, 4, utc("2024-03-20 08:00"), 3, 3),
    (9, 2, 7, A4, 1, utc("2024-03-31 23:59:59"), 1, 0),
    (10, 6, 8, A2, 4, utc("2024-04-01 00:00"), 1, 1),
    (11, 1, 9, A2, 1, utc("2023-11-10 10:00"), 3, 3),
    (12, 3, 10, B1, 3, utc("2023-12-31 23:59:59"), 2, 1),
    (13, 4, 11, B2, 3, utc("2023-10-01 00:00"), 1, 1),
    (14, 5, 12, C1, 4, utc("2023-09-30 23:59:59"), 1, 1),
    (15, 7, 15, A5, 1, utc("2024-01-01 00:00"), 0, 0),
]
TABLES = {
    "institution_group": ("id", "name"),
    "institution": (
        "id", "group_id", "name", "country", "region", "created_at", "is_active", "sso_enabled",
        "two_factor_required", "password_min_length", "session_timeout_minutes",
    ),
    "department": ("id", "institution_id", "name"),
    "ward": ("id", "department_id", "name"),
    "form": ("id", "institution_id", "name", "kind", "created_at", "updated_at", "is_active"),
    "app_user": (
        "id", "institution_id", "username", "email", "access_level", "is_staff", "created_at", "last_login",
    ),
    "audit_session": ("id", "form_id", "user_id", "ward_id", "started_at", "ended_at"),
    "submission": (
        "id", "form_id", "session_id", "user_id", "ward_id", "submitted_at", "observation_count",
        "compliant_count",
    ),
}  # fmt: skip
ROWS = {
    "institution_group": GROUPS,
    "institution": INSTITUTIONS,
    "department": DEPARTMENTS,
    "ward": WARDS,
    "form": FORMS,
    "app_user": USERS,
    "audit_session": SESSIONS,
    "submission": SUBMISSIONS,
}


def server_url(database: str) -> str:
    """A libpq URI of ``database`` on the test stack's PostgreSQL (from AIRFLOW_CONN_POSTGRES_APP)."""
    uri = os.environ.get("AIRFLOW_CONN_POSTGRES_APP", "postgres://postgres@127.0.0.1:54330/app")
    base = uri.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql://{base}/{database}"


def create_schema(conn: psycopg.Connection) -> None:
    from analytics.bi.config import APP_SCHEMA_SQL
    from analytics.stores.postgres import run_sql_file

    run_sql_file(conn, APP_SCHEMA_SQL)


def insert_fixture(conn: psycopg.Connection) -> None:
    """The hand-written rows above, in a database holding the application's schema."""
    from analytics.stores.postgres import copy_rows_to_table

    for table, columns in TABLES.items():
        copy_rows_to_table(conn, table, columns, ROWS[table])


@contextmanager
def app_database(*, with_fixture: bool = True) -> Iterator[str]:
    """A fresh database holding the application's schema (and the fixture); yields its URI, then drops it.

    Its Airflow connection is :data:`APP_CONN_ID` (``AIRFLOW_CONN_BI_TEST_APP`` is set meanwhile).
    """
    name = f"bi_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    variable = f"AIRFLOW_CONN_{APP_CONN_ID.upper()}"
    saved = os.environ.get(variable)
    try:
        url = server_url(name)
        with psycopg.connect(url) as conn:
            create_schema(conn)
            if with_fixture:
                insert_fixture(conn)
        os.environ[variable] = url.replace("postgresql://", "postgres://")
        yield url
    finally:
        if saved is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = saved
        with psycopg.connect(server_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
