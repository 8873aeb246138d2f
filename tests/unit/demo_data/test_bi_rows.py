"""The ``bi`` source of the demo data (scripts/demo_data/bi.py), without a database: the rows are
deterministic, sized as asked, and carry what the BI aggregation must handle."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from scripts.demo_data import cli
from scripts.demo_data.bi import BiPlan, build_reference, month_activity

SMALL = BiPlan(seed=3, months=3, institutions=8, forms=30, users=60, submissions=3000)


def activity(plan: BiPlan) -> tuple[list[tuple], list[tuple], Counter]:
    reference, stats = build_reference(plan), Counter()
    sessions, submissions = [], []
    for index in range(plan.months):
        month_sessions, month_submissions = month_activity(
            plan, reference, index, len(sessions) + 1, len(submissions) + 1, stats
        )
        sessions += month_sessions
        submissions += month_submissions
    return sessions, submissions, stats


def test_the_source_is_a_sub_command():
    assert "bi" in [source.name for source in cli.SOURCES]


def test_the_same_plan_gives_the_same_rows_and_another_seed_others():
    assert build_reference(SMALL).rows == build_reference(SMALL).rows
    assert activity(SMALL)[:2] == activity(SMALL)[:2]
    other = BiPlan(seed=4, months=3, institutions=8, forms=30, users=60, submissions=3000)
    assert activity(other)[1] != activity(SMALL)[1]


def test_the_default_plan_has_the_issue_sizes():
    plan = BiPlan()
    reference = build_reference(plan)
    assert (plan.months, plan.submissions) == (12, 200_000)
    assert len(reference.rows["institution"]) >= 20
    assert len({row[1] for row in reference.rows["institution"]}) == 4
    assert len(reference.rows["form"]) == 200 and len(reference.rows["app_user"]) == 1000
    assert plan.last_month == "2024-12"


def test_every_risk_flag_is_carried_and_some_institution_has_none():
    institutions = build_reference(SMALL).rows["institution"]
    users = build_reference(SMALL).rows["app_user"]
    flags = {
        "no_sso": [row[0] for row in institutions if not row[7]],
        "no_two_factor": [row[0] for row in institutions if not row[8]],
        "weak_password_policy": [row[0] for row in institutions if row[9] < 12],
        "long_session_timeout": [row[0] for row in institutions if row[10] > 60],
    }
    assert all(flags.values()), flags
    global_share = Counter(row[1] for row in users if row[4] == "global")
    per_institution = Counter(row[1] for row in users)
    assert any(global_share[i] > 0.1 * per_institution[i] for i in per_institution)
    flagged = set().union(*map(set, flags.values()))
    assert set(per_institution) - flagged  # some institutions are safe


def test_activity_is_sized_and_carries_the_edges():
    sessions, submissions, stats = activity(SMALL)
    assert len(submissions) == 3000
    assert len({row[0] for row in submissions}) == 3000 and len({row[0] for row in sessions}) == len(sessions)
    assert any(row[5] is None for row in sessions) and any(row[5] is not None for row in sessions)
    with_submission = {row[2] for row in submissions}
    assert any(row[0] not in with_submission for row in sessions)
    month_starts = {datetime(2024, month, 1, tzinfo=UTC) for month in (1, 2, 3)}
    assert {row[5] for row in submissions} & month_starts == month_starts  # 00:00 on each 1st
    assert all(
        datetime(2024, 1, 1, tzinfo=UTC) <= row[5] < datetime(2024, 4, 1, tzinfo=UTC) for row in submissions
    )
    sessions_by_id = {row[0]: row for row in sessions}
    assert all(
        sessions_by_id[row[2]][1] == row[1] for row in submissions
    )  # a session's form is its submissions'
    assert stats["submissions at 00:00 on the 1st"] == 9


@pytest.mark.parametrize(
    "changes",
    [{"start_month": "2024-13"}, {"institutions": 3}, {"groups": 5}, {"forms": 2}, {"months": 0}],
)
def test_plans_out_of_range_are_refused(changes):
    with pytest.raises(ValueError):
        BiPlan(**{**SMALL.__dict__, **changes})
