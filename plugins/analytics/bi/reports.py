"""The report and the check that end a run of ``bi_monthly_aggregation``. Pure.

Every writing task returns a summary (:meth:`analytics.bi.engine.WriteResult.as_summary`). The
report logs one line per summary and the totals per collection; the check compares what the run
planned with the summaries that came back: one per chunk of ``monthly_submissions``, one cleanup
and one ``monthly_sessions`` per month, one ``quarterly_form_churn`` per month that closes a
quarter, one per snapshot collection. A task that failed returns none, so its collection and period
are named in the check's failure (the report, run whatever happened, has said what was written).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from analytics.bi.documents import MONTHLY_SESSIONS, MONTHLY_SUBMISSIONS, QUARTERLY_FORM_CHURN, SNAPSHOTS
from analytics.bi.periods import Month


def expected_results(months: Sequence[str], chunks: Sequence[Mapping[str, Any]]) -> Counter:
    """How many summaries each (collection, period) of the plan should have."""
    expected: Counter = Counter()
    for chunk in chunks:
        expected[(MONTHLY_SUBMISSIONS.name, chunk["month"])] += 1
    for label in months:
        expected[(MONTHLY_SUBMISSIONS.name, label)] += 1  # the month's cleanup
        expected[(MONTHLY_SESSIONS.name, label)] += 1
        month = Month.parse(label)
        if month.closes_quarter:
            expected[(QUARTERLY_FORM_CHURN.name, month.quarter.label)] += 1
    if months:
        for name in SNAPSHOTS:
            expected[(name, f"as of {months[-1]}")] += 1
    return expected


def flatten(*groups: Any) -> list[dict[str, Any]]:
    """The summaries of the run's tasks: each group is one summary, a list of them (a mapped task), or None."""
    summaries: list[dict[str, Any]] = []
    for group in groups:
        if group is None:
            continue
        if isinstance(group, Mapping):
            summaries.append(dict(group))
        else:
            summaries.extend(dict(summary) for summary in group if summary)
    return summaries


def missing_results(
    months: Sequence[str], chunks: Sequence[Mapping[str, Any]], summaries: Iterable[Mapping[str, Any]]
) -> list[str]:
    """One sentence per (collection, period) with fewer summaries than planned."""
    got = Counter((summary["collection"], summary["period"]) for summary in summaries)
    problems = []
    for (collection, period), count in sorted(expected_results(months, chunks).items()):
        if got[(collection, period)] < count:
            problems.append(
                f"{collection} {period}: {got[(collection, period)]} of {count} task(s) finished "
                "(see the failed task's log; clearing it replaces its period again)"
            )
    return problems


def report_lines(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per collection and period (chunks added up), then the totals."""
    by_period: dict[tuple[str, str], Counter] = {}
    states: dict[tuple[str, str], set[str]] = {}
    for summary in summaries:
        key = (summary["collection"], summary["period"])
        by_period.setdefault(key, Counter()).update(
            {name: summary[name] for name in ("rows", "written", "removed")}
        )
        states.setdefault(key, set()).add(summary["state"])
    lines = [
        f"{collection} {period}: {', '.join(sorted(states[(collection, period)]))}, {counts['rows']} rows, "
        f"{counts['written']} documents written, {counts['removed']} removed"
        for (collection, period), counts in sorted(by_period.items())
    ]
    totals = sum(by_period.values(), Counter())
    lines.append(
        f"total: {len(summaries)} task(s), {totals['rows']} rows, {totals['written']} documents written, "
        f"{totals['removed']} removed"
    )
    return lines
