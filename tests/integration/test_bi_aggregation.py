"""The BI aggregation engines against the real local PostgreSQL and MongoDB, on hand-computed numbers.

The application is the small fixture of ``tests/bi_data.py`` (its docstring lists the edges), in a
fresh PostgreSQL database per test module; each test gets a fresh MongoDB database. Every expected
number is written literally below, counted by hand from the fixture's rows.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import psycopg
import pytest

from analytics.bi import engine
from analytics.bi.config import load_bi_config
from analytics.bi.documents import RISK_FLAGS, SNAPSHOTS
from analytics.bi.periods import Month
from analytics.bi.plan import chunked
from analytics.stores.mongo import RUN_FIELD, MongoBatchWriter
from tests.bi_data import A2, A3, APP_CONN_ID, B1, C1, FORMS, app_database

JAN, FEB, MAR, APR = Month(2024, 1), Month(2024, 2), Month(2024, 3), Month(2024, 4)
FORM_IDS = sorted(form[0] for form in FORMS)
CHUNKS = chunked(FORM_IDS, 2)  # [1, 2], [3, 4], [5, 6], [7, 8]


def naive(text: str) -> datetime:
    """A UTC time as the local MongoDB server returns it (naive UTC, as pymongo does by default)."""
    return datetime.fromisoformat(text)


@pytest.fixture(scope="module")
def app_url():
    with app_database() as url:
        yield url


@pytest.fixture
def config(app_url, mongo_database):
    return dataclasses.replace(
        load_bi_config(),
        source_connection_id=APP_CONN_ID,
        database=mongo_database.name,
        forms_per_chunk=2,
        top_users_per_institution=2,
        batch_size=2,
    )


def documents(database, name: str, **query) -> dict[str, dict]:
    """The collection's documents by ``_id``, without the run stamp."""
    return {document.pop("_id"): document for document in database[name].find(query, {RUN_FIELD: 0})}


def write_month(month: Month, config) -> None:
    """Everything one month's run writes for the periods (not the snapshots)."""
    for chunk in CHUNKS:
        engine.write_monthly_submissions(month, chunk, config)
    engine.remove_unplanned_forms(month, FORM_IDS, config)
    engine.write_monthly_sessions(month, config)
    if month.closes_quarter:
        engine.write_quarterly_form_churn(month, config)


def write_everything(config) -> None:
    for month in (JAN, FEB, MAR, APR):
        write_month(month, config)
    for name in SNAPSHOTS:
        engine.resync_snapshot(name, MAR, config)


def every_document(database) -> dict[str, dict]:
    return {name: documents(database, name) for name in sorted(database.list_collection_names())}


def pick(document: dict, *fields: str) -> tuple:
    return tuple(document[field] for field in fields)


SUBMISSION_FIELDS = ("submissions", "observations", "compliant_observations", "users", "wards")
SESSION_FIELDS = (
    "sessions_started",
    "sessions_completed",
    "sessions_without_submission",
    "users",
    "mean_duration_minutes",
    "median_duration_minutes",
)


# --- monthly collections --------------------------------------------------------------------------


def test_monthly_submissions_by_hand_with_the_month_edges(config, mongo_database):
    write_everything(config)
    found = documents(mongo_database, "monthly_submissions")
    # (submissions, observations, compliant, users, wards), compliance rate
    assert {key: (pick(doc, *SUBMISSION_FIELDS), doc["compliance_rate"]) for key, doc in found.items()} == {
        "2024-01|1|7": ((1, 0, 0, 1, 1), None),  # s15 at 00:00 on 1 January; no observation: no rate
        # s1, s2, s3 (29 Feb 23:59:59.999999 is February): 10+5+4 observations, 8+5+1 compliant
        "2024-02|1|1": ((3, 19, 14, 2, 2), pytest.approx(14 / 19)),
        "2024-02|2|3": ((1, 6, 3, 1, 1), 0.5),
        "2024-03|1|1": ((1, 2, 2, 1, 1), 1.0),  # s5 at 1 March 00:00 is March's
        "2024-03|1|2": ((3, 11, 7, 2, 2), pytest.approx(7 / 11)),  # s6, s7 (0 observations), s9
        "2024-03|3|5": ((1, 3, 3, 1, 1), 1.0),
        "2024-04|3|6": ((1, 1, 1, 1, 1), 1.0),  # s10 at 1 April 00:00 is April's, not March's
    }
    february = found["2024-02|1|1"]
    assert (february["month"], february["institution_id"], february["form_id"]) == ("2024-02", 1, 1)
    assert (february["institution_name"], february["form_name"]) == ("Alpha Hospital", "Hand hygiene")


def test_monthly_sessions_by_hand_by_start_time(config, mongo_database):
    write_everything(config)
    found = documents(mongo_database, "monthly_sessions")
    assert {key: pick(doc, *SESSION_FIELDS) for key, doc in found.items()} == {
        "2024-01|1|7": (1, 1, 0, 1, 10.0, 10.0),  # sess15 at 1 January 00:00
        # sess1 (40 min), sess2 (20 min: starts 29 Feb 23:50, ends in March), sess14 (never ended,
        # no submission)
        "2024-02|1|1": (3, 2, 1, 2, 30.0, 30.0),
        "2024-02|2|3": (1, 0, 0, 1, None, None),  # sess3 never finished: no duration at all
        "2024-03|1|1": (1, 1, 0, 1, 30.0, 30.0),  # sess4 at 1 March 00:00
        # sess5 (60), sess13 (10, no submission), sess16 (50, no submission), sess7 (never ended)
        "2024-03|1|2": (4, 3, 2, 2, 40.0, 50.0),
        "2024-03|3|5": (1, 1, 0, 1, 15.0, 15.0),
        "2024-04|1|1": (1, 1, 0, 1, 5.0, 5.0),  # sess8 at 1 April 00:00
        # sess9..12 are in 2023 and sess10 starts 31 December: none of these months
    }


def test_quarterly_form_churn_by_hand(config, mongo_database):
    write_everything(config)
    found = documents(mongo_database, "quarterly_form_churn")
    fields = (
        "active_forms",
        "previous_active_forms",
        "retained_forms",
        "new_forms",
        "churned_forms",
        "churn_rate",
    )
    # Q1 2024 against Q4 2023. Alpha: f1 both, f2 new, f7 new (its only submission, 1 January 00:00,
    # is Q1's). Beta: f3 both, f4 churned (its only submission, 1 October 00:00, is Q4's). Gamma: f5
    # new (its Q3 submission, 30 September 23:59:59, is not Q4's), f6's (1 April 00:00) is Q2's.
    assert {key: pick(doc, *fields) for key, doc in found.items()} == {
        "2024-Q1|1": (3, 1, 1, 2, 0, 0.0),
        "2024-Q1|2": (1, 2, 1, 0, 1, 0.5),
        "2024-Q1|3": (1, 0, 0, 1, 0, None),  # no form active before: no churn rate
    }
    assert {doc["quarter"] for doc in found.values()} == {"2024-Q1"}


def test_churn_is_refused_in_a_month_that_closes_no_quarter(config):
    with pytest.raises(ValueError, match="does not close a quarter"):
        engine.write_quarterly_form_churn(FEB, config)


# --- snapshots ------------------------------------------------------------------------------------


def test_institutions_snapshot_by_hand(config, mongo_database):
    engine.resync_snapshot("institutions", MAR, config)
    found = documents(mongo_database, "institutions")
    fields = ("institution_name", "group_name", "country", "region", "active", "users", "forms")
    assert {key: pick(doc, *fields) for key, doc in found.items()} == {
        "1": ("Alpha Hospital", "North", "FR", "IDF", True, 10, 3),
        "2": ("Beta Clinic", "North", "FR", "ARA", True, 2, 2),
        # ivan (created 15 April) and f8 (created 1 May) came after the end of March
        "3": ("Gamma Care", "South", "BE", "BRU", False, 1, 2),
    }
    # The last 30 days of March are [2 March, 1 April): s5 (1 March 00:00) is before, s10 (1 April) after.
    assert {key: (doc["recent_submissions"], doc["recent_days"]) for key, doc in found.items()} == {
        "1": (3, 30),  # s6, s7, s9
        "2": (0, 30),
        "3": (1, 30),  # s8
    }
    assert {key: doc["last_submission_at"] for key, doc in found.items()} == {
        "1": naive("2024-03-31 23:59:59"),
        "2": naive("2024-02-10 09:00"),
        "3": naive("2024-03-20 08:00"),
    }
    assert found["1"]["created_at"] == naive("2023-01-01 00:00")
    assert {(doc["as_of_month"], doc["as_of"]) for doc in found.values()} == {
        ("2024-03", naive("2024-04-01"))
    }


def test_security_risk_clients_by_hand_on_the_thresholds(config, mongo_database):
    engine.resync_snapshot("security_risk_clients", MAR, config)
    found = documents(mongo_database, "security_risk_clients")
    # Alpha is on every threshold (password 12, timeout 60, 1 global user of 10): no flag, not listed.
    # Beta: 1 global user of 2. Gamma: password 11, timeout 61; ivan (global) came in April.
    assert {key: (doc["flags"], doc["risk_score"]) for key, doc in found.items()} == {
        "2": (["no_two_factor", "no_sso", "many_global_users"], 3),
        "3": (["weak_password_policy", "long_session_timeout"], 2),
    }
    assert pick(found["2"], "users", "global_users", "institution_name") == (2, 1, "Beta Clinic")
    assert not any(flag in found["2"] for flag in RISK_FLAGS)  # the flags are listed, not columns


def test_risk_thresholds_come_from_the_configuration(config, mongo_database):
    stricter = dataclasses.replace(
        config,
        risk_thresholds=dataclasses.replace(
            config.risk_thresholds, minimum_password_length=13, maximum_global_user_share=0.05
        ),
    )
    engine.resync_snapshot("security_risk_clients", MAR, stricter)
    found = documents(mongo_database, "security_risk_clients")
    assert found["1"]["flags"] == ["weak_password_policy", "many_global_users"]  # 12 < 13; 10 % > 5 %


def test_forms_catalogue_by_hand(config, mongo_database):
    engine.resync_snapshot("forms", MAR, config)
    found = documents(mongo_database, "forms")
    assert {key: (doc["submissions"], doc["last_submission_at"]) for key, doc in found.items()} == {
        "1": (5, naive("2024-03-01 00:00")),  # s1, s2, s3, s5, s11
        "2": (3, naive("2024-03-31 23:59:59")),
        "3": (2, naive("2024-02-10 09:00")),  # s4, s12
        "4": (1, naive("2023-10-01 00:00")),
        "5": (2, naive("2024-03-20 08:00")),  # s8, s14
        "6": (0, None),  # its only submission is on 1 April
        "7": (1, naive("2024-01-01 00:00")),
        # f8 was created in May
    }
    fields = ("form_name", "institution_id", "institution_name", "kind", "active", "updated_at")
    assert pick(found["4"], *fields) == (
        "Medication",
        2,
        "Beta Clinic",
        "audit",
        False,
        naive("2023-12-01 00:00"),
    )


def test_top_users_by_hand_without_email(config, mongo_database):
    engine.resync_snapshot("top_users", MAR, config)
    found = documents(mongo_database, "top_users")
    # The 90 days ending 1 April are [2 January, 1 April): s15 (1 January) is out, s10 (1 April) too.
    # Alpha: carol and bob have 3 submissions each; carol started 4 sessions there, bob 3; dave (1) is 3rd.
    assert {
        key: pick(doc, "rank", "user_id", "username", "submissions", "sessions") for key, doc in found.items()
    } == {
        "1|1": (1, A3, "carol", 3, 4),
        "1|2": (2, A2, "bob", 3, 3),
        "2|1": (1, B1, "frank", 1, 1),
        "3|1": (1, C1, "heidi", 1, 1),
    }
    assert not any("email" in doc for doc in found.values())
    assert {doc["window_days"] for doc in found.values()} == {90}


# --- reruns, crashes, concurrency with readers ----------------------------------------------------


def test_a_rerun_leaves_identical_documents(config, mongo_database):
    write_everything(config)
    first = every_document(mongo_database)
    assert sum(map(len, first.values())) == 7 + 7 + 3 + 3 + 2 + 7 + 4 + 4  # + the four snapshots' months
    assert sorted(first["snapshot_months"]) == sorted(SNAPSHOTS)
    write_everything(config)
    assert every_document(mongo_database) == first


def test_indexes_on_period_and_institution_keys(config, mongo_database):
    write_everything(config)
    keys = {
        name: [list(index["key"].items()) for index in mongo_database[name].list_indexes()]
        for name in mongo_database.list_collection_names()
    }
    assert [("month", 1), ("institution_id", 1)] in keys["monthly_submissions"]
    assert [("month", 1), ("institution_id", 1)] in keys["monthly_sessions"]
    assert [("quarter", 1), ("institution_id", 1)] in keys["quarterly_form_churn"]
    for name in SNAPSHOTS:
        assert any(index[0][0] == "institution_id" for index in keys[name]), name


def _change_the_application(app_url: str) -> None:
    """February changes: s4 moves from f3 to f4 (both in chunk [3, 4]), s100 is added to f1 (chunk [1, 2])."""
    with psycopg.connect(app_url) as conn:
        conn.execute("UPDATE submission SET form_id = 4 WHERE id = 4")
        conn.execute("INSERT INTO submission VALUES (100, 1, 1, %s, 1, '2024-02-06 10:00+00', 1, 1)", (A2,))


def _restore_the_application(app_url: str) -> None:
    with psycopg.connect(app_url) as conn:
        conn.execute("DELETE FROM submission WHERE id = 100")
        conn.execute("UPDATE submission SET form_id = 3 WHERE id = 4")


@pytest.fixture
def changed_application(app_url):
    _change_the_application(app_url)
    yield app_url
    _restore_the_application(app_url)


def test_a_rerun_of_one_chunk_replaces_its_forms_only(config, mongo_database, changed_application):
    """A chunk's scope is (month, its forms): rerunning it alone never deletes another chunk's documents."""
    _restore_the_application(changed_application)
    write_month(FEB, config)
    _change_the_application(changed_application)
    result = engine.write_monthly_submissions(FEB, [3, 4], config)
    assert (result.rows, result.written, result.removed) == (1, 1, 1)  # f4's document in, f3's out
    found = documents(mongo_database, "monthly_submissions", month="2024-02")
    assert set(found) == {"2024-02|1|1", "2024-02|2|4"}  # chunk [1, 2]'s document is still there,
    assert found["2024-02|1|1"]["submissions"] == 3  # untouched (s100 is not counted yet)


def test_a_crash_after_the_first_chunk_deletes_nothing_and_a_rerun_converges(
    config, mongo_database, mongo_client, changed_application, monkeypatch
):
    _restore_the_application(changed_application)
    write_month(FEB, config)
    before = documents(mongo_database, "monthly_submissions")
    _change_the_application(changed_application)

    real = MongoBatchWriter.flush
    calls = {"count": 0}

    class WorkerLost(RuntimeError):
        pass

    def crash_on_second_chunk(self):
        if self._batch:
            calls["count"] += 1
            if calls["count"] == 2:  # chunk [1, 2] flushed once; chunk [3, 4] dies before its commit
                raise WorkerLost("worker lost")
        return real(self)

    monkeypatch.setattr(MongoBatchWriter, "flush", crash_on_second_chunk)
    engine.write_monthly_submissions(FEB, [1, 2], config)
    with pytest.raises(WorkerLost):
        engine.write_monthly_submissions(FEB, [3, 4], config)
    monkeypatch.setattr(MongoBatchWriter, "flush", real)

    halfway = documents(mongo_database, "monthly_submissions")
    # The crashed chunk deleted nothing: f3's document is still there (the writer flushed what it held
    # when the error went through it, so f4's new document may be there too).
    assert set(halfway) >= set(before)
    assert halfway["2024-02|2|3"] == before["2024-02|2|3"]
    assert halfway["2024-02|1|1"]["submissions"] == 4  # chunk [1, 2] was rewritten with s100

    for chunk in CHUNKS:  # the task's retry, or a clear of the run: every chunk again
        engine.write_monthly_submissions(FEB, chunk, config)
    engine.remove_unplanned_forms(FEB, FORM_IDS, config)
    clean = mongo_client[f"{mongo_database.name}_clean"]
    try:
        write_month(FEB, dataclasses.replace(config, database=clean.name))
        assert documents(mongo_database, "monthly_submissions") == documents(clean, "monthly_submissions")
        converged = documents(mongo_database, "monthly_submissions")
        assert set(converged) == {"2024-02|1|1", "2024-02|2|4"}
    finally:
        mongo_client.drop_database(clean.name)


def test_forms_gone_from_the_application_are_removed_from_their_month_only(config, mongo_database):
    write_month(FEB, config)
    write_month(MAR, config)
    ghost = {"_id": "2024-02|9|99", "month": "2024-02", "institution_id": 9, "form_id": 99}
    mongo_database["monthly_submissions"].insert_one(ghost)
    result = engine.remove_unplanned_forms(FEB, FORM_IDS, config)
    assert result.removed == 1
    assert set(documents(mongo_database, "monthly_submissions")) == {
        "2024-02|1|1",
        "2024-02|2|3",
        "2024-03|1|1",
        "2024-03|1|2",
        "2024-03|3|5",
    }


def test_readers_never_see_a_snapshot_shrink_or_empty_mid_resync(
    config, mongo_database, mongo_client, monkeypatch
):
    """top_users with 2 per institution (4 documents), then with 1 (3): a reader counts after every batch."""
    engine.resync_snapshot("top_users", MAR, config)
    old_ids = set(documents(mongo_database, "top_users"))
    assert len(old_ids) == 4
    reader = mongo_client[mongo_database.name]["top_users"]
    seen: list[set] = []
    real = MongoBatchWriter.flush

    def flush_and_look(self):
        wrote = bool(self._batch) and self.collection.name == "top_users"  # not the snapshot's month record
        real(self)
        if wrote:  # a look after each batch written (the commit's last, empty flush writes nothing)
            seen.append({document["_id"] for document in reader.find({}, {"_id": 1})})

    monkeypatch.setattr(MongoBatchWriter, "flush", flush_and_look)
    result = engine.resync_snapshot(
        "top_users", MAR, dataclasses.replace(config, top_users_per_institution=1, batch_size=1)
    )
    monkeypatch.setattr(MongoBatchWriter, "flush", real)

    assert len(seen) == 3  # a look after each of the three one-document batches
    assert all(ids >= old_ids for ids in seen)  # every old document readable until the new set is whole
    assert (result.written, result.removed) == (3, 1)
    assert set(documents(mongo_database, "top_users")) == {"1|1", "2|1", "3|1"}


def test_a_snapshot_of_an_older_month_keeps_the_later_one(config, mongo_database):
    engine.resync_snapshot("forms", MAR, config)
    later = documents(mongo_database, "forms")
    result = engine.resync_snapshot("forms", FEB, config)
    assert result.state == "kept" and "as of 2024-03" in result.note
    assert documents(mongo_database, "forms") == later
    again = engine.resync_snapshot("forms", MAR, config)  # the same month is resynced
    assert again.state == "complete" and again.written == 7
    assert documents(mongo_database, "forms") == later


def test_a_snapshot_resync_follows_the_application(config, mongo_database, changed_application):
    engine.resync_snapshot("forms", MAR, config)
    found = documents(mongo_database, "forms")
    # s100 added to f1, s4 moved from f3 to f4
    assert [found[key]["submissions"] for key in ("1", "3", "4")] == [6, 1, 2]


def test_an_empty_later_snapshot_is_not_replaced_by_an_older_month(config, mongo_database):
    """A snapshot as of a month with no rows leaves no document; its month is recorded all the same.

    A backfill's December run (no top users) resyncs top_users empty; February's run, later in
    wall-clock time, must keep it: the collection is as of December.
    """
    december = Month(2024, 12)  # no session in the 90 days before its end: no top users
    assert engine.resync_snapshot("top_users", december, config).written == 0
    assert mongo_database["top_users"].count_documents({}) == 0
    result = engine.resync_snapshot("top_users", FEB, config)
    assert result.state == "kept", result
    assert mongo_database["top_users"].count_documents({}) == 0
    assert engine.later_snapshot_month(mongo_database["top_users"], "2024-02") == "2024-12"
