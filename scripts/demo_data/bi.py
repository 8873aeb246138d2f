"""The ``bi`` source of the demo data: the clinical-audit application's database (PostgreSQL ``app``)
that ``bi_monthly_aggregation`` reads. It creates the schema (``include/sql/bi/app_schema.sql``),
empties its tables and fills them in one transaction with COPY: institution groups, institutions
(every risk flag carried by at least one: no two-factor, no SSO, a short minimum password, a long
session timeout, many global users; and some without any), departments, wards, forms (a few created
during the year, some inactive, some no longer used from a month on, so quarters churn), users (global, group and institution access; a few created during
the year), then month by month the audit sessions (some never finished, some without any
submission, a few starting at 00:00 on the 1st) and their submissions (a few at 00:00 on the 1st,
exactly on the month edge). The same arguments always give the same rows (one random stream per
part, as the other sources); memory holds one month of sessions and submissions. ``--submissions``
scales the data set (the benchmark asks for a million). Local stacks only: it refuses a non-local
host unless ``--allow-remote`` is given."""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .engagement import connect_to_local_database
from .randomness import derived_random

GROUP_NAMES = ("Northern Health", "Coastal Care", "Metro Hospitals", "Valley Clinics")
PLACES = (
    ("FR", "Ile-de-France"), ("FR", "Auvergne-Rhone-Alpes"), ("FR", "Occitanie"), ("BE", "Brussels"),
    ("BE", "Flanders"), ("CH", "Geneva"), ("CA", "Quebec"), ("GB", "London"),
)  # fmt: skip
FORM_KINDS = ("audit", "survey", "checklist", "observation")
FORM_TOPICS = (
    "Hand hygiene", "Falls prevention", "Pressure ulcers", "Medication safety", "Sepsis bundle",
    "Catheter care", "Nutrition", "Pain assessment", "Infection control", "Patient identification",
)  # fmt: skip
DEPARTMENT_NAMES = ("Medicine", "Surgery", "Geriatrics", "Paediatrics", "Emergency")
# Institutions 1..5 carry one risk flag each, in this order; the others are safe or random.
RISK_CARRIERS = (
    "no_two_factor",
    "no_sso",
    "weak_password_policy",
    "long_session_timeout",
    "many_global_users",
)
SHARE_FORMS_RETIRED = 0.12  # forms no longer used from some month on: they churn
SHARE_SESSIONS_UNFINISHED = 0.08
SHARE_SESSIONS_WITHOUT_SUBMISSION = 0.05
SESSIONS_AT_MONTH_START = 3  # per month, sessions (and their first submission) at 00:00 on the 1st
MIN_INSTITUTIONS, MIN_GROUPS = 4, 1
TABLE_COLUMNS = {
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


@dataclass(frozen=True)
class BiPlan:
    """What to generate: ``months`` months of activity from ``start_month`` (``YYYY-MM``, UTC)."""

    seed: int = 42
    start_month: str = "2024-01"
    months: int = 12
    groups: int = 4
    institutions: int = 24
    forms: int = 200
    users: int = 1000
    submissions: int = 200_000

    def __post_init__(self) -> None:
        from analytics.bi.periods import Month

        Month.parse(self.start_month)
        if not 1 <= self.groups <= len(GROUP_NAMES):
            raise ValueError(f"--groups must be between 1 and {len(GROUP_NAMES)}")
        if self.institutions < max(MIN_INSTITUTIONS, len(RISK_CARRIERS) + 1, self.groups):
            raise ValueError(
                "--institutions must be at least 6 (one per risk flag and a safe one) and the groups"
            )
        if self.forms < self.institutions or self.users < 2 * self.institutions:
            raise ValueError("--forms must be at least --institutions, --users at least twice --institutions")
        if self.months < 1 or self.submissions < 0:
            raise ValueError("--months must be at least 1 and --submissions not negative")

    def month_starts(self) -> list[datetime]:
        """00:00 UTC on the 1st of each month, and of the month after the last."""
        year, month = int(self.start_month[:4]), int(self.start_month[5:])
        starts = []
        for index in range(self.months + 1):
            total = month - 1 + index
            starts.append(datetime(year + total // 12, total % 12 + 1, 1, tzinfo=UTC))
        return starts

    @property
    def last_month(self) -> str:
        return f"{self.month_starts()[-2]:%Y-%m}"


@dataclass
class Reference:
    """The application's reference rows, and what sessions are drawn from."""

    rows: dict[str, list[tuple]] = field(default_factory=dict)
    users_by_institution: dict[int, list[int]] = field(default_factory=dict)
    wards_by_institution: dict[int, list[int]] = field(default_factory=dict)
    # id, institution, created, index of the first month it is no longer used in (retired forms churn)
    forms: list[tuple[int, int, datetime, int]] = field(default_factory=list)


def _institution_settings(number: int, rng) -> tuple[bool, bool, int, int]:
    """(sso, two factor, password length, timeout): institution ``number`` (1-based) carries RISK_CARRIERS[number - 1]."""
    sso, two_factor, password, timeout = True, True, 12, 30
    if number <= len(RISK_CARRIERS):
        flag = RISK_CARRIERS[number - 1]
        sso = flag != "no_sso"
        two_factor = flag != "no_two_factor"
        password = 8 if flag == "weak_password_policy" else 12
        timeout = 240 if flag == "long_session_timeout" else 30
    elif number > len(RISK_CARRIERS) + 3:  # the first few after the carriers stay safe; the rest vary
        sso, two_factor = rng.random() < 0.7, rng.random() < 0.8
        password, timeout = rng.choice((8, 10, 12, 14)), rng.choice((15, 30, 60, 120))
    return sso, two_factor, password, timeout


def build_reference(plan: BiPlan) -> Reference:
    """Groups, institutions, departments, wards, forms and users, deterministic for the plan."""
    rng = derived_random(plan.seed, "bi", "reference")
    start = plan.month_starts()[0]
    reference = Reference()
    reference.rows["institution_group"] = [
        (number, GROUP_NAMES[number - 1]) for number in range(1, plan.groups + 1)
    ]
    institutions, departments, wards = [], [], []
    for number in range(1, plan.institutions + 1):
        country, region = PLACES[number % len(PLACES)]
        created = start - timedelta(days=rng.randrange(60, 1500))
        active = number % 11 != 0
        sso, two_factor, password, timeout = _institution_settings(number, rng)
        group = (number - 1) % plan.groups + 1
        name = f"{region.split('-')[0]} {('Hospital', 'Clinic', 'Care Centre')[number % 3]} {number}"
        institutions.append(
            (number, group, name, country, region, created, active, sso, two_factor, password, timeout)
        )
        reference.wards_by_institution[number] = []
        for _ in range(rng.randint(2, 3)):
            department = len(departments) + 1
            departments.append((department, number, rng.choice(DEPARTMENT_NAMES)))
            for _ in range(rng.randint(2, 4)):
                ward = len(wards) + 1
                wards.append((ward, department, f"Ward {ward}"))
                reference.wards_by_institution[number].append(ward)
    reference.rows.update(institution=institutions, department=departments, ward=wards)
    reference.rows["form"] = _forms(plan, rng, start, reference)
    reference.rows["app_user"] = _users(plan, rng, start, reference)
    return reference


def _forms(plan: BiPlan, rng, start: datetime, reference: Reference) -> list[tuple]:
    forms = []
    for number in range(1, plan.forms + 1):
        institution = (
            (number - 1) % plan.institutions + 1
            if number <= plan.institutions
            else rng.randint(1, plan.institutions)
        )
        during_year = rng.random() < 0.1
        created = (
            start + timedelta(days=rng.randrange(0, 28 * plan.months))
            if during_year
            else start - timedelta(days=rng.randrange(1, 700))
        )
        updated = created + timedelta(days=rng.randrange(1, 200)) if rng.random() < 0.5 else None
        topic = FORM_TOPICS[number % len(FORM_TOPICS)]
        forms.append(
            (
                number,
                institution,
                f"{topic} #{number}",
                rng.choice(FORM_KINDS),
                created,
                updated,
                rng.random() > 0.1,
            )
        )
        retired = (
            rng.randrange(2, plan.months)
            if plan.months > 2 and rng.random() < SHARE_FORMS_RETIRED
            else plan.months
        )
        reference.forms.append((number, institution, created, retired))
    return forms


def _users(plan: BiPlan, rng, start: datetime, reference: Reference) -> list[tuple]:
    many_global = RISK_CARRIERS.index("many_global_users") + 1
    users = []
    for number in range(1, plan.users + 1):
        institution = (number - 1) % plan.institutions + 1
        draw = rng.random()
        if institution == many_global:
            access = "global" if draw < 0.3 else "institution"
        else:
            access = "global" if draw < 0.02 else "group" if draw < 0.1 else "institution"
        created = (
            start + timedelta(days=rng.randrange(0, 28 * plan.months))
            if rng.random() < 0.05
            else start - timedelta(days=rng.randrange(1, 900))
        )
        username = f"user{number:05d}"
        users.append(
            (
                number,
                institution,
                username,
                f"{username}@example.org",
                access,
                rng.random() < 0.03,
                created,
                None,
            )
        )
        reference.users_by_institution.setdefault(institution, []).append(number)
    return users


def month_activity(
    plan: BiPlan,
    reference: Reference,
    month_index: int,
    first_session: int,
    first_submission: int,
    stats: Counter,
) -> tuple[list[tuple], list[tuple]]:
    """One month's audit sessions and submissions (ids from ``first_session``/``first_submission``)."""
    rng = derived_random(plan.seed, "bi", "activity", month_index)
    starts = plan.month_starts()
    begin, end = starts[month_index], starts[month_index + 1]
    span = int((end - begin).total_seconds())
    target = plan.submissions // plan.months + (1 if month_index < plan.submissions % plan.months else 0)
    forms = [form[:3] for form in reference.forms if form[2] < end and month_index < form[3]]
    weights = [1 + (form[0] * 7919) % 13 for form in forms]  # some forms far busier than others
    sessions, submissions = [], []
    while len(submissions) < target:
        form_id, institution, created = rng.choices(forms, weights)[0]
        session_id = first_session + len(sessions)
        at_edge = len(sessions) < SESSIONS_AT_MONTH_START
        started = begin if at_edge else begin + timedelta(seconds=rng.randrange(span))
        started = max(started, created)
        user = rng.choice(reference.users_by_institution[institution])
        ward = rng.choice(reference.wards_by_institution[institution])
        duration = timedelta(minutes=rng.randint(3, 120))
        finished = at_edge or rng.random() >= SHARE_SESSIONS_UNFINISHED
        sessions.append((session_id, form_id, user, ward, started, started + duration if finished else None))
        stats["sessions unfinished"] += not finished
        if not at_edge and rng.random() < SHARE_SESSIONS_WITHOUT_SUBMISSION:
            stats["sessions without submission"] += 1
            continue
        for rank in range(min(rng.randint(1, 5), target - len(submissions))):
            submitted = started if at_edge and rank == 0 else started + duration * rng.random()
            if submitted >= end:
                submitted = end - timedelta(seconds=1)
            observations = rng.randint(0, 20)
            compliant = rng.randint(0, observations)
            submissions.append(
                (
                    first_submission + len(submissions),
                    form_id,
                    session_id,
                    user,
                    ward,
                    submitted,
                    observations,
                    compliant,
                )
            )
        stats["submissions at 00:00 on the 1st"] += at_edge
    return sessions, submissions


def write_dataset(conn, plan: BiPlan) -> tuple[dict[str, int], Counter]:
    """Create the schema and replace its rows with the plan's, in one transaction; rows per table and named counts."""
    from analytics.bi.config import APP_SCHEMA_SQL
    from analytics.stores.postgres import copy_rows_to_table, run_sql_file

    reference = build_reference(plan)
    stats: Counter = Counter()
    counts: Counter = Counter()
    with conn.transaction():
        run_sql_file(conn, APP_SCHEMA_SQL)
        conn.execute(f"TRUNCATE {', '.join(TABLE_COLUMNS)} RESTART IDENTITY CASCADE")
        for table, rows in reference.rows.items():
            counts[table] = copy_rows_to_table(conn, table, TABLE_COLUMNS[table], rows)
        for sessions, submissions in _months(plan, reference, stats):
            counts["audit_session"] += copy_rows_to_table(
                conn, "audit_session", TABLE_COLUMNS["audit_session"], sessions
            )
            counts["submission"] += copy_rows_to_table(
                conn, "submission", TABLE_COLUMNS["submission"], submissions
            )
    conn.execute("ANALYZE")
    stats.update(_reference_stats(reference))
    return dict(counts), stats


def _months(plan: BiPlan, reference: Reference, stats: Counter) -> Iterator[tuple[list[tuple], list[tuple]]]:
    next_session, next_submission = 1, 1
    for index in range(plan.months):
        sessions, submissions = month_activity(plan, reference, index, next_session, next_submission, stats)
        next_session += len(sessions)
        next_submission += len(submissions)
        yield sessions, submissions


def _reference_stats(reference: Reference) -> Counter:
    stats: Counter = Counter()
    for row in reference.rows["institution"]:
        _, _, _, _, _, _, _, sso, two_factor, password, timeout = row
        stats["institutions without two-factor"] += not two_factor
        stats["institutions without SSO"] += not sso
        stats["institutions with a password minimum under 12"] += password < 12
        stats["institutions with a session timeout over 60 min"] += timeout > 60
    stats["users with global access"] = sum(row[4] == "global" for row in reference.rows["app_user"])
    return stats


@dataclass(frozen=True)
class BiRun:
    """The plan and the database it fills: an Airflow connection id, else a libpq URI."""

    plan: BiPlan
    database_url: str | None = None
    conn_id: str | None = None
    allow_remote: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = BiPlan()
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--start-month", default=defaults.start_month, help="first month (YYYY-MM, UTC)")
    parser.add_argument("--months", type=int, default=defaults.months)
    parser.add_argument("--groups", type=int, default=defaults.groups)
    parser.add_argument("--institutions", type=int, default=defaults.institutions)
    parser.add_argument("--forms", type=int, default=defaults.forms)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument(
        "--submissions", type=int, default=defaults.submissions, help="the scale (bench: 1000000)"
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--database-url", help="libpq URI; default: $AIRFLOW_CONN_POSTGRES_APP")
    target.add_argument("--conn", help="an Airflow connection id instead of a URI")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-local database host")


def options(arguments: argparse.Namespace) -> BiRun:
    """The run, or ValueError for a plan out of range or no database named."""
    plan = BiPlan(
        arguments.seed,
        arguments.start_month,
        arguments.months,
        arguments.groups,
        arguments.institutions,
        arguments.forms,
        arguments.users,
        arguments.submissions,
    )
    if arguments.conn:
        return BiRun(plan, conn_id=arguments.conn, allow_remote=arguments.allow_remote)
    url = arguments.database_url or os.environ.get("AIRFLOW_CONN_POSTGRES_APP")
    if not url:
        raise ValueError("no database: pass --database-url or --conn, or set AIRFLOW_CONN_POSTGRES_APP")
    return BiRun(plan, database_url=url, allow_remote=arguments.allow_remote)


def run(bi_run: BiRun) -> int:
    """Fill the database with the plan's rows and print what was written."""
    plan = bi_run.plan
    conn, where = connect_to_local_database(bi_run)
    started = time.monotonic()
    with conn:
        counts, stats = write_dataset(conn, plan)
    seconds = time.monotonic() - started
    print(
        f"bi application data (seed {plan.seed}, {plan.months} months from {plan.start_month}, UTC) "
        f"written to {where} in {seconds:.1f}s; last complete month {plan.last_month}"
    )
    for table, count in counts.items():
        print(f"  {table:<22} {count:>10} rows")
    for name, count in sorted(stats.items()):
        print(f"  {name:<48} {count:>8}")
    return 0
