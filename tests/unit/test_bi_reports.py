"""The run's report and check (pure): what was planned against what came back."""

from __future__ import annotations

from analytics.bi.reports import expected_results, flatten, missing_results, report_lines

MONTHS = ["2024-02", "2024-03"]
CHUNKS = [{"month": month, "form_ids": chunk} for month in MONTHS for chunk in ([1, 2], [3])]


def summary(collection, period, rows=1, written=1, removed=0, state="complete"):
    return {
        "collection": collection,
        "period": period,
        "rows": rows,
        "written": written,
        "removed": removed,
        "state": state,
    }


def everything():
    results = [summary("monthly_submissions", chunk["month"]) for chunk in CHUNKS]
    results += [summary("monthly_submissions", month, rows=0, written=0) for month in MONTHS]  # cleanups
    results += [summary("monthly_sessions", month) for month in MONTHS]
    results += [summary("quarterly_form_churn", "2024-Q1")]
    results += [
        summary(name, "as of 2024-03")
        for name in ("institutions", "security_risk_clients", "forms", "top_users")
    ]
    return results


def test_expected_results_of_a_plan():
    expected = expected_results(MONTHS, CHUNKS)
    assert expected[("monthly_submissions", "2024-02")] == 3  # two chunks and the cleanup
    assert expected[("quarterly_form_churn", "2024-Q1")] == 1
    assert ("quarterly_form_churn", "2024-Q4") not in expected
    assert expected[("top_users", "as of 2024-03")] == 1
    assert sum(expected.values()) == 6 + 2 + 1 + 4


def test_a_complete_run_has_no_problem_and_a_missing_chunk_is_named():
    assert missing_results(MONTHS, CHUNKS, everything()) == []
    results = everything()
    results.pop(0)
    assert missing_results(MONTHS, CHUNKS, results) == [
        "monthly_submissions 2024-02: 2 of 3 task(s) finished (see the failed task's log; clearing it "
        "replaces its period again)"
    ]


def test_flatten_takes_single_summaries_mapped_lists_and_nothing():
    assert flatten(None, [summary("forms", "x"), None], summary("top_users", "y")) == [
        summary("forms", "x"),
        summary("top_users", "y"),
    ]


def test_report_adds_chunks_up_per_period():
    lines = report_lines(everything())
    assert "monthly_submissions 2024-02: complete, 2 rows, 2 documents written, 0 removed" in lines
    assert lines[-1] == "total: 13 task(s), 11 rows, 11 documents written, 0 removed"
