"""The accounting kit: read = loaded + rejected, whole-file judgement, rejection records, status documents."""

from __future__ import annotations

import logging

import pytest

from analytics.core.accounting import (
    COMPLETE,
    PARTIAL,
    REJECTED_WHOLE,
    REPLACED,
    FileAccount,
    Rejection,
    RejectionLog,
    check_threshold,
    excerpt,
    overall_state,
    status_document,
)


def _account(read: int, rejected: int, **rejection) -> FileAccount:
    account = FileAccount("f.sql", read=read)
    for line in range(rejected):
        account.reject(Rejection("f.sql", line + 2, "bad int", **rejection))
    account.loaded = read - rejected
    return account


def test_a_share_above_the_threshold_rejects_the_file_whole() -> None:
    account = _account(read=100, rejected=6)
    assert account.judge(0.05) == "6 of 100 records rejected (6.0 %), more than the threshold of 5 %"
    assert account.outcome == REJECTED_WHOLE and account.balanced


def test_exactly_the_threshold_is_accepted() -> None:
    assert _account(read=100, rejected=5).judge(0.05) is None
    assert _account(read=100, rejected=5).outcome == REPLACED


def test_an_empty_table_is_accepted() -> None:
    assert FileAccount("f.sql").judge(0.0) is None


def test_a_file_level_fault_rejects_whole_whatever_the_threshold() -> None:
    account = FileAccount("f.sql", read=1)
    account.reject(Rejection("f.sql", None, "empty file", detail="no header line", whole_file=True))
    assert account.judge(1.0) == "f.sql: empty file (no header line)"


def test_quality_findings_do_not_count_towards_the_threshold() -> None:
    account = _account(read=4, rejected=2, quality_only=True)
    assert account.rejected == 2 and account.rejected_share == 0.0
    assert account.judge(0.05) is None


@pytest.mark.parametrize("value", [-0.01, 1.01, True, "0.05", None])
def test_a_threshold_must_be_a_share(value) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        check_threshold(value)


def test_rejection_records_are_ranked_per_file_and_logged_up_to_a_limit(caplog) -> None:
    written: list[dict] = []
    logger = logging.getLogger("test.accounting")
    caplog.set_level(logging.WARNING, logger="test.accounting")
    log = RejectionLog(written.append, logger, "db.errors", {"course_id": "c"}, logged_per_file=2)
    for line in (2, 3, 4):
        log.record(Rejection("a.sql", line, "bad int", field="id", detail="x", excerpt="x\tana"))
    log.record(Rejection("b.sql", 9, "not UTF-8"))

    assert [record["_id"] for record in written] == ["a.sql#1", "a.sql#2", "a.sql#3", "b.sql#1"]
    assert written[0] == {
        "_id": "a.sql#1",
        "course_id": "c",
        "file": "a.sql",
        "line": 2,
        "reason": "bad int",
        "field": "id",
        "detail": "x",
        "excerpt": "x\tana",
        "whole_file": False,
        "quality_only": False,
        "message": "a.sql:2: field 'id': bad int (x)",
    }
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "rejected a.sql:2: field 'id': bad int (x)",
        "rejected a.sql:3: field 'id': bad int (x)",
        "a.sql: more rejections in this file; all are stored in db.errors",
        "rejected b.sql:9: not UTF-8",
    ]
    assert log.by_reason == {"bad int": 3, "not UTF-8": 1}


def test_excerpts_are_cut_and_decoded_leniently() -> None:
    assert excerpt(b"caf\xe9") == "caf\ufffd"
    assert excerpt("x" * 300) == "x" * 200 + "..."
    assert excerpt(None) is None


def test_the_state_is_partial_when_anything_was_kept() -> None:
    good = {"f.sql": _account(10, 0)}
    assert overall_state(good, {}) == COMPLETE
    assert overall_state(good, {"forum": "no file"}) == PARTIAL
    rejected = _account(10, 5)
    rejected.judge(0.05)
    assert overall_state({"f.sql": rejected}, {}) == PARTIAL


def test_the_status_document_sums_rejections_over_files() -> None:
    first, second = _account(10, 1), _account(5, 2)
    second.file = "g.sql"
    document = status_document(
        state=PARTIAL,
        started_at=1,
        finished_at=2,
        files={"f.sql": first, "g.sql": second},
        loaded={"user": 12},
        kept={"forum": "no file"},
        _id="latest",
    )
    assert document["rejected"] == {"bad int": 3}
    assert [entry["file"] for entry in document["files"]] == ["f.sql", "g.sql"]
    assert document["kept"] == {"forum": "no file"} and document["_id"] == "latest"
    with pytest.raises(ValueError, match="state must be one of"):
        status_document(state="done", started_at=1, finished_at=2, files={}, loaded={})
