"""A run's plan (pure): chunks of forms, one chunk task per (month, chunk), quarters, the snapshots' month."""

from __future__ import annotations

import pytest

from analytics.bi.config import MAX_MAPPED_TASKS
from analytics.bi.periods import Month
from analytics.bi.plan import chunked, plan_run


def test_chunks_keep_the_order_and_the_last_is_shorter():
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert chunked(list(range(1, 201)), 10)[-1] == list(range(191, 201))
    assert len(chunked(list(range(200)), 10)) == 20
    assert chunked([], 10) == []
    assert chunked([1, 2], 10) == [[1, 2]]
    with pytest.raises(ValueError):
        chunked([1], 0)


def test_plan_of_a_range_with_a_closing_quarter():
    plan = plan_run([Month(2024, 2), Month(2024, 3), Month(2024, 4)], [5, 1, 3, 2, 4], 2)
    assert plan.months == ["2024-02", "2024-03", "2024-04"]
    assert plan.form_ids == [1, 2, 3, 4, 5]
    assert plan.chunks[:3] == [
        {"month": "2024-02", "form_ids": [1, 2]},
        {"month": "2024-02", "form_ids": [3, 4]},
        {"month": "2024-02", "form_ids": [5]},
    ]
    assert len(plan.chunks) == 9
    assert plan.quarter_months == ["2024-03"]
    assert plan.snapshot_month == "2024-04"
    assert any("2024-Q1 (in 2024-03)" in line for line in plan.describe())


def test_plan_without_forms_or_quarter():
    plan = plan_run([Month(2024, 1)], [], 10)
    assert plan.chunks == [] and plan.quarter_months == []
    assert "skipped" in plan.describe()[2]


def test_a_plan_past_what_airflow_maps_is_refused():
    months = [Month(2020, 1).minus(-index) for index in range(60)]
    with pytest.raises(ValueError, match="raise forms_per_chunk"):
        plan_run(months, list(range(200)), 10)  # 60 x 20 = 1200
    assert len(plan_run(months, list(range(200)), 12).chunks) <= MAX_MAPPED_TASKS  # 60 x 17 = 1020
