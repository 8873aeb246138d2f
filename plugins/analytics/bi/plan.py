"""What one run of ``bi_monthly_aggregation`` computes: its months, the chunks of forms, its quarters. Pure.

The same plan serves every kind of run (scheduled, backfill, params range), so they share one code
path. ``monthly_submissions`` is computed per (month, chunk of ``forms_per_chunk`` forms), one mapped
task each, the forms taken in id order from the application when the run is planned;
``monthly_sessions`` once per month; ``quarterly_form_churn`` once per month of the run that closes
a quarter (none in the others, so that task is skipped); the four snapshots once, as of the end of
the run's last month. A plan whose chunk tasks would exceed :data:`MAX_MAPPED_TASKS` is refused
with a message that says how to split it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from analytics.bi.config import MAX_MAPPED_TASKS
from analytics.bi.periods import Month


def chunked(items: Sequence[int], size: int) -> list[list[int]]:
    """``items`` in consecutive chunks of ``size`` (the last one shorter), order kept."""
    if size < 1:
        raise ValueError(f"forms_per_chunk must be at least 1, not {size}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


@dataclass(frozen=True)
class RunPlan:
    """The months of a run (``"YYYY-MM"``), the forms, one chunk task per (month, chunk), the months
    that close a quarter, and the month the snapshots are as of (the last)."""

    months: list[str]
    form_ids: list[int]
    chunks: list[dict]  # {"month": "YYYY-MM", "form_ids": [...]}: the keyword arguments of one chunk task
    quarter_months: list[str]
    snapshot_month: str

    def as_xcom(self) -> dict:
        return asdict(self)

    def describe(self) -> list[str]:
        """Log lines: what this run computes."""
        chunks_per_month = len(self.chunks) // len(self.months) if self.months else 0
        quarters = ", ".join(f"{Month.parse(month).quarter} (in {month})" for month in self.quarter_months)
        return [
            f"months: {', '.join(self.months)}",
            f"monthly_submissions: {len(self.form_ids)} forms in {chunks_per_month} chunk(s) per month, "
            f"{len(self.chunks)} chunk task(s)",
            f"quarterly_form_churn: {quarters or 'no month of this run closes a quarter: skipped'}",
            f"snapshots (institutions, security_risk_clients, forms, top_users) as of the end of {self.snapshot_month}",
        ]


def plan_run(months: Sequence[Month], form_ids: Sequence[int], forms_per_chunk: int) -> RunPlan:
    """The plan of a run over ``months`` (at least one) for the application's ``form_ids``."""
    if not months:
        raise ValueError("a run computes at least one month")
    form_chunks = chunked(sorted(form_ids), forms_per_chunk)
    if len(months) * len(form_chunks) > MAX_MAPPED_TASKS:
        raise ValueError(
            f"{len(months)} months x {len(form_chunks)} chunks of {forms_per_chunk} forms is "
            f"{len(months) * len(form_chunks)} chunk tasks, more than Airflow maps ({MAX_MAPPED_TASKS}): "
            "raise forms_per_chunk or split the range"
        )
    labels = [month.label for month in months]
    return RunPlan(
        months=labels,
        form_ids=sorted(form_ids),
        chunks=[{"month": label, "form_ids": chunk} for label in labels for chunk in form_chunks],
        quarter_months=[month.label for month in months if month.closes_quarter],
        snapshot_month=labels[-1],
    )
