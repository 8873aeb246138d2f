"""What every DAG shares: the tag vocabulary, default task arguments, and owners.

DAG files take their tags from :data:`TAGS` (the integrity tests reject any other tag) and
their ``default_args`` from :func:`default_args`, so retries and owners are set in one place.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

TAGS = frozenset(
    {
        "edx",  # data from edX (research data packages, tracking logs)
        "engagement",  # the engagement ELT and its weekly views
        "bi",  # aggregates that dashboards query
        "messages",  # message analytics
        "kpi",  # course KPIs for course staff
        "ingestion",  # raw data into a store
        "transformation",  # derived data from stored data
        "export",  # files for people outside Airflow
        "mongodb",
        "postgres",
        "s3",
        "daily",
        "weekly",
        "monthly",
        "manual",  # triggered by people with params, no schedule
    }
)

DATA_ENGINEERING = "data-engineering"
DEFAULT_RETRIES = 2


def default_args(owner: str = DATA_ENGINEERING, **overrides: Any) -> dict[str, Any]:
    """Task defaults: an owner, two retries with a growing delay, no e-mail."""
    return {
        "owner": owner,
        "retries": DEFAULT_RETRIES,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        **overrides,
    }
