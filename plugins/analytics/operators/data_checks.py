"""The MongoDB DAGs' data checks: :class:`~analytics.operators.mongo_checks.MongoCheckOperator`s scoped to the run.

Each operator here takes the XComs of the tasks it follows (the files loaded, the collections and
periods written) and runs the checks that :mod:`analytics.checks` builds from them in
:meth:`checks_for`, so it asserts this run's data only: other files, months or courses never make
it fail, and running it again gives the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from analytics.checks import (
    bi_checks,
    extraction_checks,
    ingestion_checks,
    kpi_checks,
    master_load_checks,
    superseded_snapshots,
)
from analytics.operators.mongo_checks import MongoCheck, MongoCheckOperator


def _summaries(*groups: Any) -> list[dict[str, Any]]:
    """XCom summaries: a summary, a mapped task's list of them, or None (a skipped task), flattened."""
    flat: list[dict[str, Any]] = []
    for group in groups:
        if group is None:
            continue
        if isinstance(group, Mapping):
            flat.append(dict(group))
        else:
            flat.extend(dict(item) for item in group[:] if item)
    return flat


class MasterLoadCheckOperator(MongoCheckOperator):
    """Checks of the files this run loaded (``loads``: the ``load_file`` summaries), in the master database."""

    template_fields: Sequence[str] = ("loads",)

    def __init__(self, *, loads: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loads = loads

    def checks_for(self, context: Any) -> list[tuple[str, MongoCheck]]:
        from analytics.edx.tracking_load import load_tracking_settings

        database = load_tracking_settings().master_database
        return [(database, check) for check in master_load_checks(_summaries(self.loads))]


class BiCheckOperator(MongoCheckOperator):
    """Checks of the collections and periods this run wrote (``results``: the writing tasks' summaries)."""

    template_fields: Sequence[str] = ("database", "results")

    def __init__(self, *, results: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    def checks_for(self, context: Any) -> list[tuple[str, MongoCheck]]:
        from analytics.bi.config import load_bi_config
        from analytics.stores.mongo import mongo_client

        database = self.database or load_bi_config().database
        checks = bi_checks(_summaries(*self.results))
        with mongo_client(self.mongo_conn_id) as client:
            superseded = superseded_snapshots(client[database], checks)
        for check in superseded:
            self.log.info(
                "not checked: %s of %s, replaced by a later month's snapshot", check.name, check.collection
            )
        return [(database, check) for check in checks if check not in superseded]


class SummaryCheckOperator(MongoCheckOperator):
    """Checks built from the summaries of the mapped task it follows (``summaries``), each in the
    database its summary names; subclasses set :attr:`build` (summary -> checks)."""

    template_fields: Sequence[str] = ("summaries",)

    def __init__(self, *, summaries: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.summaries = summaries

    @staticmethod
    def build(summary: Mapping[str, Any]) -> list[MongoCheck]:
        raise NotImplementedError

    def checks_for(self, context: Any) -> list[tuple[str, MongoCheck]]:
        return [
            (summary["database"], check)
            for summary in _summaries(self.summaries)
            for check in self.build(summary)
        ]


class IngestionCheckOperator(SummaryCheckOperator):
    """Checks of the courses this run ingested (``summaries``: the ``ingest_course`` summaries)."""

    build = staticmethod(ingestion_checks)


class ExtractionCheckOperator(SummaryCheckOperator):
    """Checks of the courses this run extracted (``summaries``: the ``extract_course`` summaries)."""

    build = staticmethod(extraction_checks)


class KpiCheckOperator(SummaryCheckOperator):
    """Checks of the courses and ranges this run computed (``summaries``: the ``compute_course`` summaries)."""

    build = staticmethod(kpi_checks)
