"""The BI aggregation's part of ``make run``: which run the demo makes, and its summary read back from MongoDB.

The demo's application data (``python -m scripts.demo_data bi``: 12 months from January 2024) ends
with December 2024, so the demo runs ``bi_monthly_aggregation`` for logical date 2025-01-01,
whose data interval is December (the scheduled run of 1 January). :func:`summarize_bi_aggregation`
reads the ``bi`` database itself (not the run's claims) and prints a short table per collection.
``scripts/run_demo.py`` adds the run with :data:`BI_DAG_ID`, :data:`BI_LOGICAL_DATE`,
:data:`BI_CONF` and this summary.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO / "plugins"))

BI_DAG_ID = "bi_monthly_aggregation"
BI_LOGICAL_DATE = "2025-01-01"  # the run of 1 January 2025 computes December 2024, the demo's last month
BI_CONF: dict = {}
DEMO_MONTH, DEMO_QUARTER = "2024-12", "2024-Q4"
TOP_ROWS = 3


def _database() -> Any:
    """The demo's BI database (the ``bi_database`` Variable, else the configuration's) on ``mongo_default``."""
    from analytics.bi.config import load_bi_config
    from analytics.stores.mongo import mongo_client

    config = load_bi_config()
    name = os.environ.get("AIRFLOW_VAR_BI_DATABASE") or config.database
    return mongo_client(config.mongo_connection_id), name


def _table(header: tuple[str, ...], rows: Iterable[tuple], widths: tuple[int, ...]) -> list[str]:
    def line(cells: tuple) -> str:
        return "  ".join(
            f"{cell:<{width}}" if index == 0 else f"{cell:>{width}}"
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    return [f"    {line(header)}", *(f"    {line(tuple(map(str, row)))}" for row in rows)]


def _percent(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def monthly_submissions_lines(database: Any) -> list[str]:
    documents = list(database["monthly_submissions"].find({"month": DEMO_MONTH}))
    by_institution: dict[str, Counter] = {}
    for document in documents:
        counts = by_institution.setdefault(document["institution_name"], Counter())
        counts.update(
            forms=1,
            submissions=document["submissions"],
            observations=document["observations"],
            compliant=document["compliant_observations"],
        )
    total = sum(by_institution.values(), Counter())
    top = sorted(by_institution.items(), key=lambda item: -item[1]["submissions"])[:TOP_ROWS]
    return [
        f"monthly_submissions {DEMO_MONTH}: {len(documents)} documents (institution x form), "
        f"{total['submissions']:,} submissions, compliance {_percent(total['compliant'], total['observations'])}",
        *_table(
            ("institution (busiest)", "forms", "submissions", "compliance"),
            (
                (name, c["forms"], f"{c['submissions']:,}", _percent(c["compliant"], c["observations"]))
                for name, c in top
            ),
            (24, 5, 11, 10),
        ),
    ]


def monthly_sessions_lines(database: Any) -> list[str]:
    documents = list(database["monthly_sessions"].find({"month": DEMO_MONTH}))
    total = Counter()
    for document in documents:
        total.update(
            {
                name: document[name]
                for name in ("sessions_started", "sessions_completed", "sessions_without_submission")
            }
        )
    medians = sorted(
        d["median_duration_minutes"] for d in documents if d["median_duration_minutes"] is not None
    )
    middle = f"{medians[len(medians) // 2]:.0f} min" if medians else "-"
    return [
        f"monthly_sessions {DEMO_MONTH}: {len(documents)} documents",
        *_table(
            ("started", "completed", "without submission", "median form median"),
            [
                (
                    f"{total['sessions_started']:,}",
                    f"{total['sessions_completed']:,}",
                    f"{total['sessions_without_submission']:,}",
                    middle,
                )
            ],
            (9, 9, 18, 18),
        ),
    ]


def churn_lines(database: Any) -> list[str]:
    documents = sorted(
        database["quarterly_form_churn"].find({"quarter": DEMO_QUARTER}), key=lambda d: -d["churned_forms"]
    )
    total = sum(
        (
            Counter(
                {k: d[k] for k in ("active_forms", "previous_active_forms", "churned_forms", "new_forms")}
            )
            for d in documents
        ),
        Counter(),
    )
    return [
        f"quarterly_form_churn {DEMO_QUARTER}: {len(documents)} institutions, {total['active_forms']} active forms "
        f"({total['previous_active_forms']} the quarter before), {total['new_forms']} new, {total['churned_forms']} churned",
        *_table(
            ("institution (most churn)", "active", "previous", "churned", "churn rate"),
            (
                (
                    d["institution_name"],
                    d["active_forms"],
                    d["previous_active_forms"],
                    d["churned_forms"],
                    "-" if d["churn_rate"] is None else f"{100 * d['churn_rate']:.0f} %",
                )
                for d in documents[:TOP_ROWS]
            ),
            (24, 6, 8, 7, 10),
        ),
    ]


def snapshot_lines(database: Any) -> list[str]:
    institutions = list(database["institutions"].find({}))
    risky = list(database["security_risk_clients"].find({}))
    forms = list(database["forms"].find({}))
    top = sorted(database["top_users"].find({"rank": 1}), key=lambda d: -d["submissions"])[:TOP_ROWS]
    flags = Counter(flag for document in risky for flag in document["flags"])
    as_of = {document["as_of_month"] for document in institutions + risky + forms}
    return [
        f"snapshots as of {', '.join(sorted(as_of)) or '-'}:",
        f"  institutions: {len(institutions)} ({sum(d['active'] for d in institutions)} active), "
        f"{sum(d['users'] for d in institutions):,} users, {sum(d['recent_submissions'] for d in institutions):,} "
        "submissions in the last 30 days",
        f"  security_risk_clients: {len(risky)} institutions flagged: "
        + ", ".join(f"{flag} {count}" for flag, count in sorted(flags.items())),
        f"  forms: {len(forms)} ({sum(d['active'] for d in forms)} active), "
        f"{sum(d['submissions'] for d in forms):,} submissions all time",
        f"  top_users: {database['top_users'].count_documents({})} documents; each institution's first, busiest:",
        *_table(
            ("institution", "username", "submissions", "sessions"),
            ((d["institution_name"], d["username"], d["submissions"], d["sessions"]) for d in top),
            (24, 10, 11, 8),
        ),
    ]


def summarize_bi_aggregation(log_path: Path) -> list[str]:
    """The demo run's collections, read back from MongoDB: a short table per collection."""
    client_context, name = _database()
    with client_context as client:
        database = client[name]
        return [
            f"MongoDB database {name!r}:",
            *monthly_submissions_lines(database),
            *monthly_sessions_lines(database),
            *churn_lines(database),
            *snapshot_lines(database),
        ]
