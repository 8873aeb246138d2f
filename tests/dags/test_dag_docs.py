"""Every DAG's documentation (its module docstring, shown as doc_md) has the same four sections.

An operator opening any DAG in the UI finds ``# <Title>`` then ``## What it does``, ``## Params``,
``## When it fails`` and ``## Owner``, in that order, each with something under it; the failure
alerts quote the first lines of "When it fails" (:mod:`analytics.alerts`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analytics.alerts import DOC_HEADINGS, doc_sections, when_it_fails

REPO = Path(__file__).resolve().parents[2]
HEADINGS = ["What it does", "Params", "When it fails", "Owner"]


@pytest.fixture(scope="module")
def docs() -> dict[str, str]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert not bag.import_errors, bag.import_errors
    return {dag_id: dag.doc_md or "" for dag_id, dag in bag.dags.items()}


def test_the_headings_are_the_ones_the_alerts_and_the_ui_test_use():
    assert list(DOC_HEADINGS) == HEADINGS


def test_every_dag_has_docs(docs):
    assert len(docs) >= 9, sorted(docs)


@pytest.mark.parametrize(
    "dag_id",
    [
        "bi_monthly_aggregation",
        "course_kpis",
        "course_tracking_extraction",
        "edx_course_ingestion",
        "engagement_elt_daily",
        "engagement_weekly_views",
        "message_analytics_export",
        "s3_log_download",
        "tracking_logs_master_load",
    ],
)
def test_doc_has_title_then_the_four_sections_in_order(docs, dag_id):
    doc = docs[dag_id]
    lines = [line for line in doc.splitlines() if line.strip()]
    assert re.fullmatch(r"# \S.*", lines[0]), f"{dag_id}: the doc starts with {lines[0]!r}, not '# <Title>'"
    headings = [line[3:].strip() for line in lines if line.startswith("## ")]
    assert headings == HEADINGS, f"{dag_id}: sections {headings}"
    assert not [line for line in lines[1:] if re.match(r"#(?!#)\s", line)], f"{dag_id}: a second title"
    sections = doc_sections(doc)
    empty = [title for title in HEADINGS if not sections[title]]
    assert not empty, f"{dag_id}: empty sections {empty}"
    assert when_it_fails(doc).startswith("A failure means"), (
        f"{dag_id}: 'When it fails' does not say what it means"
    )
