"""The four weekly engagement views against the real PostgreSQL, checked on hand-computed numbers.

A small fixture of 12 users over Dec 2023 - Feb 2024 (time zone Europe/Paris, winter: UTC+1).
The week under test is W = Monday 2024-02-12, so week_end = 2024-02-19 and the windows are:
  2 months [2023-12-19, 2024-02-19)   1 month [2024-01-19, 2024-02-19)
  6 weeks  [2024-01-08, 2024-02-19) = weeks A 01-08, B 01-15, C 01-22, D 01-29, E 02-05, W 02-12
Every expected number below is written literally, with the reasoning next to it.

That fixture writes `day`, `week` and the geography itself (as the ELT would); the last tests
build a second, smaller fixture through the ELT's own SQL (``ensure_event_table`` and
``enrich_events``), so the contract between the enrichment and the views is tested too.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from analytics.engagement.config import ActiveUserRule, load_engagement_config
from analytics.engagement.elt import enrich_events, ensure_event_table
from analytics.engagement.events import EVENT_COLUMNS
from analytics.engagement.weekly_views import (
    WEEKLY_VIEWS,
    EventsNotEnriched,
    LockWaitTimeout,
    compute_week,
    view_sql_path,
)

PARIS = ZoneInfo("Europe/Paris")
W1, W2, W3 = date(2024, 2, 5), date(2024, 2, 12), date(2024, 2, 19)
W = W2
DISTINCT_DAYS_2 = ActiveUserRule("distinct_days", 2)
EVENTS_2 = ActiveUserRule("events", 2)
NR = "NON RENSEIGNE"

# user -> (type_utilisateur, structure, department, region) carried by their events
USERS = {
    "j1": ("JEUNE", "MILO", "75", "11"),  # regular: 2 days in B, C, D, W; DEMARCHES_IA via current adviser
    "j2": (
        "JEUNE",
        "MILO",
        "75",
        "11",
    ),  # bursts: several events on ONE day per week; DEMARCHES_IA via initial adviser only
    "j3": ("JEUNE", "MILO", "75", "11"),  # 13 in Dec., 75 in D and E, 69 (region 84) in W; no DEMARCHES_IA
    "j4": ("JEUNE", "MILO", None, None),  # no geography; adviser flagged for another feature only
    "j5": ("JEUNE", "POLE_EMPLOI", "13", "93"),  # one event on the first day of the 2-month window
    "j6": ("JEUNE", "POLE_EMPLOI", "13", "93"),  # one event on the day before the 1-month window
    "j7": ("JEUNE", "POLE_EMPLOI", "13", "93"),  # first day of the 1-month window, and Monday 00:00 of W3
    "j8": ("JEUNE", "POLE_EMPLOI", "13", "93"),  # one event on the day before the 2-month window
    "c1": ("CONSEILLER", "MILO", "75", "11"),  # 2 days in A, B, W
    "c2": ("CONSEILLER", "MILO", "75", "11"),  # one event in W (NULL nom)
    "c3": ("CONSEILLER", "MILO", "69", "84"),  # 2 events on one day in W
    "c4": ("CONSEILLER", None, None, None),  # no structure, no geography
}
MOVED = ("69", "84")  # j3's department and region in week W

# (user, local time, categorie, action, nom[, (department, region) overriding USERS])
ACD = ("Action", "Creation", "Demarche")
MET = ("Message", "Envoi", "Texte")
EVENTS = [
    ("j8", "2023-12-18 10:00", *MET),  # day before W's 2-month window
    ("j5", "2023-12-19 10:00", *MET),  # first day of W's 2-month window
    ("j3", "2023-12-28 10:00", *MET, ("13", "93")),  # j3 lived in department 13 before the 6 weeks
    ("j4", "2024-01-02 10:00", *ACD),
    # week A (2024-01-08, first week of W's 6)
    ("c1", "2024-01-08 09:00", *MET),
    ("c1", "2024-01-10 09:00", *MET),
    # week B (2024-01-15)
    ("c1", "2024-01-15 09:00", *MET),
    ("c1", "2024-01-16 09:00", *MET),
    ("j1", "2024-01-15 18:00", *ACD),
    ("j1", "2024-01-17 18:00", *ACD),
    ("j6", "2024-01-18 10:00", *MET),  # day before W's 1-month window
    ("j7", "2024-01-19 10:00", *MET),  # first day of W's 1-month window
    # week C (2024-01-22)
    ("j1", "2024-01-22 18:00", *ACD),
    ("j1", "2024-01-23 18:00", *ACD),
    ("j2", "2024-01-24 10:00", *ACD),
    ("j2", "2024-01-24 10:05", *ACD),
    # week D (2024-01-29)
    ("j1", "2024-01-29 18:00", *ACD),
    ("j1", "2024-01-31 18:00", *ACD),
    ("j2", "2024-01-30 10:00", *ACD),
    ("j2", "2024-01-30 10:05", *ACD),
    ("j3", "2024-01-29 10:00", *MET),
    ("j3", "2024-02-01 10:00", *MET),
    # week E (2024-02-05)
    ("j2", "2024-02-06 10:00", *ACD),
    ("j2", "2024-02-06 10:05", *ACD),
    ("j3", "2024-02-05 10:00", *MET),
    ("j3", "2024-02-07 10:00", *MET),
    # week W (2024-02-12)
    ("j1", "2024-02-12 00:00", *ACD),  # Monday 00:00 local = Sunday 23:00 UTC: belongs to W
    ("j1", "2024-02-14 10:00", *ACD),
    ("j2", "2024-02-13 10:00", *ACD),
    ("j2", "2024-02-13 10:01", *ACD),
    ("j2", "2024-02-13 10:02", *MET),
    ("j3", "2024-02-13 10:00", *MET, MOVED),
    ("j3", "2024-02-15 10:00", "Message", "Envoi", "Piece jointe", MOVED),
    ("j4", "2024-02-15 10:00", "Action", None, None),  # NULL action and nom
    ("c1", "2024-02-12 10:00", *MET),
    ("c1", "2024-02-16 10:00", *MET),
    ("c2", "2024-02-14 10:00", "Action", "Commentaire", None),  # NULL nom
    ("c3", "2024-02-15 10:00", *MET),
    ("c3", "2024-02-15 11:00", *MET),
    ("c4", "2024-02-13 10:00", *MET),  # NULL structure: out of fonctionnalites
    # week W3 (2024-02-19)
    ("j7", "2024-02-19 00:00", *MET),  # Monday 00:00 local: belongs to W3 only
]

EVENT_TABLE_SCHEMA = """
CREATE TABLE evenement_engagement (
    id bigint PRIMARY KEY, date_evenement timestamptz, categorie text, action text, nom text,
    id_utilisateur text, type_utilisateur text, structure text, code text, week date, day date,
    agence text, department text, region text);
"""
# The reference tables copy_production copies from production (columns of prod_schema.sql).
REFERENCE_SCHEMA = """
CREATE TABLE agence (id text, nom_agence text, code_departement text, code_region text);
CREATE TABLE conseiller (id text, id_agence text, email text, structure text, dispositif text);
CREATE TABLE jeune (id text, id_conseiller text, id_conseiller_initial text, structure text, dispositif text);
CREATE TABLE feature_flip (id serial, feature_tag text, email_conseiller text);
"""
AGENCES = [("a75", "Agence Paris", "75", "11"), ("a69", "Agence Lyon", "69", "84")]
CONSEILLERS = [
    ("c1", "a75", "c1@example.org", "MILO", "CEJ"),
    ("c2", "a75", "c2@example.org", "MILO", "CEJ"),
    ("c3", "a69", "c3@example.org", "MILO", "CEJ"),
    ("c4", None, "c4@example.org", None, "CEJ"),
]
# (jeune, current adviser, initial adviser)
JEUNES = [
    ("j1", "c1", "c2"),  # both advisers flagged: must count once
    ("j2", "c3", "c2"),  # flagged through the initial adviser only
    ("j3", "c3", "c3"),  # no flagged adviser
    ("j4", "c4", "c4"),  # adviser flagged for another feature
    ("j5", "c3", None),
    ("j6", "c3", None),
    ("j7", "c1", "c1"),
    ("j8", "c3", None),
]
FEATURE_FLIPS = [
    ("DEMARCHES_IA", "c1@example.org"),
    ("DEMARCHES_IA", "c1@example.org"),  # listed twice: must not duplicate events
    ("DEMARCHES_IA", "c2@example.org"),
    ("AUTRE_FEATURE", "c4@example.org"),
]


def _event_rows() -> list[tuple]:
    rows = []
    for number, (user, local_time, categorie, action, nom, *moved) in enumerate(EVENTS, start=1):
        type_utilisateur, structure, department, region = USERS[user]
        if moved:
            department, region = moved[0]
        moment = datetime.strptime(local_time, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS)
        day = moment.date()  # what the ELT computes in the configured time zone
        week = day - timedelta(days=day.weekday())
        rows.append(
            (number, moment, categorie, action, nom, user, type_utilisateur, structure, None, week, day)
            + (None, department, region)
        )
    return rows


def _server_conninfo(dbname: str) -> str:
    uri = os.environ.get("AIRFLOW_CONN_POSTGRES_ANALYTICS")
    if not uri:
        pytest.fail("AIRFLOW_CONN_POSTGRES_ANALYTICS is not set: start the test stack with `make stack-test`")
    params = conninfo_to_dict("postgresql://" + uri.split("://", 1)[1])
    assert str(params.get("port")) != "54320", "the tests never touch the demo stack"
    params["dbname"] = dbname
    return make_conninfo(**params)


@contextmanager
def _fresh_database() -> Iterator[psycopg.Connection]:
    """An autocommit connection to a new, empty database on the test server, dropped afterwards."""
    name = f"test_views_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_server_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(_server_conninfo(name), autocommit=True) as conn:
            yield conn
    finally:
        with psycopg.connect(_server_conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _insert_reference_tables(conn, agences, conseillers, jeunes, feature_flips) -> None:
    conn.execute(REFERENCE_SCHEMA)
    with conn.cursor() as cursor:
        cursor.executemany("INSERT INTO agence VALUES (%s, %s, %s, %s)", agences)
        cursor.executemany("INSERT INTO conseiller VALUES (%s, %s, %s, %s, %s)", conseillers)
        cursor.executemany("INSERT INTO jeune VALUES (%s, %s, %s, 'MILO', 'CEJ')", jeunes)
        cursor.executemany(
            "INSERT INTO feature_flip (feature_tag, email_conseiller) VALUES (%s, %s)", feature_flips
        )


@pytest.fixture
def analytics_conn():
    """A fresh database with the input tables and the fixture above, dropped afterwards."""
    with _fresh_database() as conn:
        conn.execute(EVENT_TABLE_SCHEMA)
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO evenement_engagement VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                _event_rows(),
            )
        _insert_reference_tables(conn, AGENCES, CONSEILLERS, JEUNES, FEATURE_FLIPS)
        yield conn


def _fonctionnalites(conn, view: str, week: date) -> dict[tuple, tuple[int, int]]:
    rows = conn.execute(
        f"SELECT structure, type_utilisateur, grain, categorie, action, nom, nombre_evenements,"
        f" nombre_utilisateurs FROM {view} WHERE week = %s",
        (week,),
    ).fetchall()
    return {row[:6]: row[6:] for row in rows}


def _engagement(conn, week: date) -> dict[tuple, tuple[int, ...]]:
    rows = conn.execute(
        "SELECT structure, type_utilisateur, department, region, utilisateurs_2_mois, utilisateurs_1_mois,"
        " utilisateurs_actifs_semaine, utilisateurs_actifs_3_sur_6_semaines,"
        " utilisateurs_actifs_4_sur_6_semaines FROM analytics_engagement WHERE week = %s",
        (week,),
    ).fetchall()
    return {row[:4]: row[4:] for row in rows}


def _engagement_national(conn, week: date) -> dict[tuple, tuple[int, ...]]:
    rows = conn.execute(
        "SELECT structure, type_utilisateur, utilisateurs_2_mois, utilisateurs_1_mois,"
        " utilisateurs_actifs_semaine, utilisateurs_actifs_3_sur_6_semaines,"
        " utilisateurs_actifs_4_sur_6_semaines FROM analytics_engagement_national WHERE week = %s",
        (week,),
    ).fetchall()
    return {row[:2]: row[2:] for row in rows}


def _all_rows(conn) -> dict[str, list[tuple]]:
    return {
        view: conn.execute(f"SELECT * FROM {view} ORDER BY 1, 2, 3, 4, 5, 6, 7").fetchall()
        for view in WEEKLY_VIEWS
    }


# ---------------------------------------------------------------------------------------------
# Without a database


def test_week_start_must_be_a_monday():
    with pytest.raises(ValueError, match="Monday"):
        compute_week(None, date(2024, 2, 13), DISTINCT_DAYS_2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="date"):
        compute_week(None, datetime(2024, 2, 12), DISTINCT_DAYS_2)  # type: ignore[arg-type]


def test_each_view_has_its_sql_file():
    assert WEEKLY_VIEWS == (
        "analytics_fonctionnalites",
        "analytics_fonctionnalites_demarches_ia",
        "analytics_engagement",
        "analytics_engagement_national",
    )
    for name in WEEKLY_VIEWS:
        text = view_sql_path(name).read_text()
        assert f"DELETE FROM {name} WHERE week = %(week_start)s::date;" in text
        assert f"INSERT INTO {name}\n" in text
        # compute_week takes this same lock (weekly_views.VIEW_WEEK_LOCK_KEY) before its snapshot.
        assert (
            f"SELECT pg_advisory_xact_lock(\n    hashtext('{name}'), %(week_start)s::date - date '2000-01-03'\n);"
            in text
        )
    with pytest.raises(ValueError, match="unknown weekly view"):
        view_sql_path("analytics_nothing")


def test_the_configured_default_rule_is_distinct_days_2():
    assert load_engagement_config().active_user_rule == DISTINCT_DAYS_2 == ActiveUserRule()


# ---------------------------------------------------------------------------------------------
# Against PostgreSQL


def test_rows_written_per_view(analytics_conn):
    assert compute_week(analytics_conn, W, DISTINCT_DAYS_2) == {
        "analytics_fonctionnalites": 15,  # 6 + 5 + 4 rows at the three grains (see below)
        "analytics_fonctionnalites_demarches_ia": 6,  # 2 + 2 + 2
        "analytics_engagement": 8,  # 8 (structure, type, department, region) cells
        "analytics_engagement_national": 4,  # MILO/POLE_EMPLOI/NR x JEUNE/CONSEILLER seen
    }
    assert compute_week(analytics_conn, W, DISTINCT_DAYS_2, views=["analytics_engagement"]) == {
        "analytics_engagement": 8
    }


def test_fonctionnalites_at_three_grains(analytics_conn):
    compute_week(analytics_conn, W, DISTINCT_DAYS_2, views=["analytics_fonctionnalites"])
    # Events of W by (structure, type); c4's has no structure and is left out, j7's 02-19 00:00
    # belongs to W3, j1's 02-12 00:00 (Sunday 23:00 UTC) belongs to W.
    #   MILO JEUNE:  j1 ACD x2 | j2 ACD x2, MET x1 | j3 MET x1, Message/Envoi/Piece jointe x1
    #                j4 Action/NULL/NULL x1
    #   MILO CONSEILLER: c1 MET x2 | c2 Action/Commentaire/NULL x1 | c3 MET x2
    assert _fonctionnalites(analytics_conn, "analytics_fonctionnalites", W) == {
        # categorie/action/nom
        ("MILO", "JEUNE", "categorie_action_nom", "Action", "Creation", "Demarche"): (4, 2),  # j1 2 + j2 2
        ("MILO", "JEUNE", "categorie_action_nom", "Action", None, None): (1, 1),  # j4
        ("MILO", "JEUNE", "categorie_action_nom", "Message", "Envoi", "Texte"): (2, 2),  # j2, j3
        ("MILO", "JEUNE", "categorie_action_nom", "Message", "Envoi", "Piece jointe"): (1, 1),  # j3
        ("MILO", "CONSEILLER", "categorie_action_nom", "Message", "Envoi", "Texte"): (4, 2),  # c1 2 + c3 2
        ("MILO", "CONSEILLER", "categorie_action_nom", "Action", "Commentaire", None): (1, 1),  # c2
        # categorie/action
        ("MILO", "JEUNE", "categorie_action", "Action", "Creation", None): (4, 2),  # j1, j2
        ("MILO", "JEUNE", "categorie_action", "Action", None, None): (1, 1),  # j4's NULL action kept
        ("MILO", "JEUNE", "categorie_action", "Message", "Envoi", None): (3, 2),  # j2 1 + j3 2
        ("MILO", "CONSEILLER", "categorie_action", "Message", "Envoi", None): (4, 2),  # c1, c3
        ("MILO", "CONSEILLER", "categorie_action", "Action", "Commentaire", None): (
            1,
            1,
        ),  # c2's NULL nom kept
        # categorie
        ("MILO", "JEUNE", "categorie", "Action", None, None): (5, 3),  # j1 2 + j2 2 + j4 1
        ("MILO", "JEUNE", "categorie", "Message", None, None): (3, 2),  # j2 1 + j3 2
        ("MILO", "CONSEILLER", "categorie", "Message", None, None): (4, 2),  # c1 2 + c3 2
        ("MILO", "CONSEILLER", "categorie", "Action", None, None): (1, 1),  # c2
    }


def test_fonctionnalites_demarches_ia(analytics_conn):
    compute_week(analytics_conn, W, DISTINCT_DAYS_2, views=["analytics_fonctionnalites_demarches_ia"])
    # JEUNE events whose current or initial adviser has DEMARCHES_IA: j1 (current c1, initial c2:
    # both flagged, c1 listed twice: still counted once) and j2 (initial c2 only). Not j3
    # (c3, no flag), not j4 (c4 flagged for AUTRE_FEATURE), never CONSEILLER events.
    #   j1 ACD x2 | j2 ACD x2, MET x1
    # (a join instead of EXISTS would give j1's events 3 times: ACD = 2*3 + 2 = 8)
    assert _fonctionnalites(analytics_conn, "analytics_fonctionnalites_demarches_ia", W) == DEMARCHES_IA_W


DEMARCHES_IA_W = {
    ("MILO", "JEUNE", "categorie_action_nom", "Action", "Creation", "Demarche"): (4, 2),
    ("MILO", "JEUNE", "categorie_action_nom", "Message", "Envoi", "Texte"): (1, 1),  # j2
    ("MILO", "JEUNE", "categorie_action", "Action", "Creation", None): (4, 2),
    ("MILO", "JEUNE", "categorie_action", "Message", "Envoi", None): (1, 1),
    ("MILO", "JEUNE", "categorie", "Action", None, None): (4, 2),
    ("MILO", "JEUNE", "categorie", "Message", None, None): (1, 1),
}


def test_demarches_ia_matches_adviser_emails_whatever_their_case(analytics_conn):
    # Emails are typed by people: the flag's and the adviser's may differ in case only.
    analytics_conn.execute("UPDATE feature_flip SET email_conseiller = upper(email_conseiller)")
    analytics_conn.execute("UPDATE conseiller SET email = 'C2@Example.org' WHERE id = 'c2'")
    compute_week(analytics_conn, W, DISTINCT_DAYS_2, views=["analytics_fonctionnalites_demarches_ia"])
    assert _fonctionnalites(analytics_conn, "analytics_fonctionnalites_demarches_ia", W) == DEMARCHES_IA_W


# Active weeks in W's 6 weeks (A, B, C, D, E, W), per rule (the other users never qualify):
#   user  events per week                    distinct_days >= 2         events >= 2
#   j1    B 2/2d, C 2/2d, D 2/2d, W 2/2d     B C D W = 4, active in W   same: 4, active in W
#   j2    C 2/1d, D 2/1d, E 2/1d, W 3/1d     none = 0                   C D E W = 4, active in W
#   j3    D 2/2d, E 2/2d (dept 75), W 2/2d (dept 69)   D E W = 3, active in W   same
#   c1    A 2/2d, B 2/2d, W 2/2d             A B W = 3, active in W     same
#   c3    W 2/1d                             0                          W = 1, active in W
# Cells (users with >= 1 event in the cell, per window):
#   MILO JEUNE 75/11   2 months j1 j2 j3, 1 month j1 j2 j3 (j3's 75 events 01-29..02-07),
#                      in W j1 j2, in 6 weeks j1 j2 j3
#   MILO JEUNE 69/84   j3 in every window
#   MILO JEUNE 13/93   j3 (2023-12-28): 2 months only, so none of the activity columns either
#   MILO JEUNE NR/NR   j4 (01-02 and 02-15): 2 months, 1 month, W, 6 weeks
#   PE JEUNE 13/93     2 months j5 (12-19) j6 (01-18) j7 (01-19), 1 month j7 only; j8 (12-18) out
#   MILO CONS. 75/11   c1 c2 in every window (c2 has one event, in W)
#   MILO CONS. 69/84   c3;   NR CONS. NR/NR   c4 (no structure, no geography)
# Columns: (2 months, 1 month, active in W, active 3 of 6, active 4 of 6)
ENGAGEMENT_DISTINCT_DAYS = {
    ("MILO", "JEUNE", "75", "11"): (3, 3, 1, 2, 1),  # active j1; 3/6 j1 j3; 4/6 j1
    ("MILO", "JEUNE", "69", "84"): (1, 1, 1, 1, 0),  # j3 active, 3 of 6
    ("MILO", "JEUNE", "13", "93"): (1, 0, 0, 0, 0),  # j3 is 3 of 6, but not in 13 within the 6 weeks
    ("MILO", "JEUNE", NR, NR): (1, 1, 0, 0, 0),  # j4
    ("POLE_EMPLOI", "JEUNE", "13", "93"): (3, 1, 0, 0, 0),  # j5 j6 j7; 1 month j7
    ("MILO", "CONSEILLER", "75", "11"): (2, 2, 1, 1, 0),  # c1 active, 3 of 6; c2 not
    ("MILO", "CONSEILLER", "69", "84"): (1, 1, 0, 0, 0),  # c3: 2 events on 1 day
    (NR, "CONSEILLER", NR, NR): (1, 1, 0, 0, 0),  # c4
}
ENGAGEMENT_EVENTS = {
    ("MILO", "JEUNE", "75", "11"): (3, 3, 2, 3, 2),  # active j1 j2; 3/6 j1 j2 j3; 4/6 j1 j2
    ("MILO", "JEUNE", "69", "84"): (1, 1, 1, 1, 0),  # j3
    ("MILO", "JEUNE", "13", "93"): (1, 0, 0, 0, 0),  # j3 in December only
    ("MILO", "JEUNE", NR, NR): (1, 1, 0, 0, 0),  # j4: 1 event in W
    ("POLE_EMPLOI", "JEUNE", "13", "93"): (3, 1, 0, 0, 0),
    ("MILO", "CONSEILLER", "75", "11"): (2, 2, 1, 1, 0),  # c1
    ("MILO", "CONSEILLER", "69", "84"): (1, 1, 1, 0, 0),  # c3 active in W only
    (NR, "CONSEILLER", NR, NR): (1, 1, 0, 0, 0),
}
# National: j3 counts once (regionally 3 + 1 + 1 + 1 = 6 MILO young people in 2 months, nationally 4).
ENGAGEMENT_NATIONAL_DISTINCT_DAYS = {
    ("MILO", "JEUNE"): (4, 4, 2, 2, 1),  # j1 j2 j3 j4; active j1 j3; 3/6 j1 j3; 4/6 j1
    ("POLE_EMPLOI", "JEUNE"): (3, 1, 0, 0, 0),
    ("MILO", "CONSEILLER"): (3, 3, 1, 1, 0),  # c1 c2 c3; c1 active, 3 of 6
    (NR, "CONSEILLER"): (1, 1, 0, 0, 0),
}
ENGAGEMENT_NATIONAL_EVENTS = {
    ("MILO", "JEUNE"): (4, 4, 3, 3, 2),  # active j1 j2 j3; 3/6 j1 j2 j3; 4/6 j1 j2
    ("POLE_EMPLOI", "JEUNE"): (3, 1, 0, 0, 0),
    ("MILO", "CONSEILLER"): (3, 3, 2, 1, 0),  # active c1 c3; 3/6 c1
    (NR, "CONSEILLER"): (1, 1, 0, 0, 0),
}


def test_engagement_with_the_configured_default_rule(analytics_conn):
    rule = load_engagement_config().active_user_rule  # distinct_days >= 2
    compute_week(analytics_conn, W, rule, views=["analytics_engagement", "analytics_engagement_national"])
    assert _engagement(analytics_conn, W) == ENGAGEMENT_DISTINCT_DAYS
    assert _engagement_national(analytics_conn, W) == ENGAGEMENT_NATIONAL_DISTINCT_DAYS


def test_engagement_with_the_events_rule(analytics_conn):
    compute_week(analytics_conn, W, EVENTS_2, views=["analytics_engagement", "analytics_engagement_national"])
    assert _engagement(analytics_conn, W) == ENGAGEMENT_EVENTS
    assert _engagement_national(analytics_conn, W) == ENGAGEMENT_NATIONAL_EVENTS


def test_switching_the_rule_rewrites_the_week(analytics_conn):
    compute_week(analytics_conn, W, EVENTS_2)
    compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    assert _engagement(analytics_conn, W) == ENGAGEMENT_DISTINCT_DAYS
    assert _engagement_national(analytics_conn, W) == ENGAGEMENT_NATIONAL_DISTINCT_DAYS


def test_the_next_week_moves_every_window(analytics_conn):
    assert compute_week(analytics_conn, W3, DISTINCT_DAYS_2) == {
        "analytics_fonctionnalites": 3,
        "analytics_fonctionnalites_demarches_ia": 3,
        "analytics_engagement": 8,
        "analytics_engagement_national": 4,
    }
    # W3's only event is j7's at Monday 2024-02-19 00:00 local (Sunday 23:00 UTC); j7's current
    # adviser c1 has DEMARCHES_IA.
    only_j7 = {
        ("POLE_EMPLOI", "JEUNE", "categorie_action_nom", "Message", "Envoi", "Texte"): (1, 1),
        ("POLE_EMPLOI", "JEUNE", "categorie_action", "Message", "Envoi", None): (1, 1),
        ("POLE_EMPLOI", "JEUNE", "categorie", "Message", None, None): (1, 1),
    }
    assert _fonctionnalites(analytics_conn, "analytics_fonctionnalites", W3) == only_j7
    assert _fonctionnalites(analytics_conn, "analytics_fonctionnalites_demarches_ia", W3) == only_j7
    # W3: week_end 02-26; 2 months [2023-12-26, 02-26) drops j5 (12-19); 1 month [01-26, 02-26)
    # drops j6 (01-18) and keeps j7 (02-19); 6 weeks B..W3 drops week A, so c1 has B and W = 2.
    # Nobody is active in W3 (j7: one event).
    assert _engagement_national(analytics_conn, W3) == {
        ("MILO", "JEUNE"): (4, 4, 0, 2, 1),  # j1 j2 j3 j4; 3/6 j1 (4) j3 (3); 4/6 j1
        ("POLE_EMPLOI", "JEUNE"): (2, 1, 0, 0, 0),  # j6 j7; 1 month j7
        ("MILO", "CONSEILLER"): (3, 3, 0, 0, 0),  # c1 c2 c3; c1 down to 2 of 6
        (NR, "CONSEILLER"): (1, 1, 0, 0, 0),  # c4
    }
    assert _engagement(analytics_conn, W3) == {
        ("MILO", "JEUNE", "75", "11"): (3, 3, 0, 2, 1),  # j1 j2 j3; 3/6 j1 j3; 4/6 j1
        ("MILO", "JEUNE", "69", "84"): (1, 1, 0, 1, 0),  # j3
        ("MILO", "JEUNE", "13", "93"): (1, 0, 0, 0, 0),  # j3's 2023-12-28, still in 2 months
        ("MILO", "JEUNE", NR, NR): (1, 1, 0, 0, 0),  # j4
        ("POLE_EMPLOI", "JEUNE", "13", "93"): (2, 1, 0, 0, 0),  # j6 j7
        ("MILO", "CONSEILLER", "75", "11"): (2, 2, 0, 0, 0),  # c1 c2
        ("MILO", "CONSEILLER", "69", "84"): (1, 1, 0, 0, 0),  # c3
        (NR, "CONSEILLER", NR, NR): (1, 1, 0, 0, 0),  # c4
    }


def test_recomputing_a_week_gives_identical_rows(analytics_conn):
    first = compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    rows = _all_rows(analytics_conn)
    assert compute_week(analytics_conn, W, DISTINCT_DAYS_2) == first
    assert _all_rows(analytics_conn) == rows
    assert sum(len(view_rows) for view_rows in rows.values()) == sum(first.values())


def test_the_views_read_the_configured_event_table(analytics_conn):
    """Like load and enrich, the views and their enrichment check read ``event_table``, not a fixed name."""
    from_default = compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    rows = _all_rows(analytics_conn)
    analytics_conn.execute("ALTER TABLE evenement_engagement RENAME TO events_elsewhere")
    analytics_conn.commit()

    assert compute_week(analytics_conn, W, DISTINCT_DAYS_2, event_table="events_elsewhere") == from_default
    assert _all_rows(analytics_conn) == rows
    analytics_conn.execute(
        "UPDATE events_elsewhere SET day = NULL WHERE id = (SELECT min(id) FROM events_elsewhere)"
    )
    analytics_conn.commit()
    with pytest.raises(EventsNotEnriched):
        compute_week(analytics_conn, W, DISTINCT_DAYS_2, event_table="events_elsewhere")


def test_weeks_in_any_order_give_the_same_rows(analytics_conn):
    def compute_in(order: list[date]) -> dict[str, list[tuple]]:
        for view in WEEKLY_VIEWS:
            analytics_conn.execute(f"TRUNCATE {view}")
        for week in order:
            compute_week(analytics_conn, week, DISTINCT_DAYS_2)
        return _all_rows(analytics_conn)

    compute_week(analytics_conn, W1, DISTINCT_DAYS_2)  # creates the tables before the first TRUNCATE
    in_order = compute_in([W1, W2, W3])
    assert {row[0] for row in in_order["analytics_engagement"]} == {W1, W2, W3}
    shuffled = [W1, W2, W3]
    random.Random(7).shuffle(shuffled)
    for order in ([W3, W2, W1], [W2, W3, W1], shuffled):
        assert compute_in(order) == in_order, order


# ---------------------------------------------------------------------------------------------
# Enrichment, transactions and concurrent runs


@pytest.mark.parametrize(
    ("unenriched", "count"),
    [
        ("SET week = NULL WHERE id_utilisateur = 'j1' AND day >= '2024-02-12'", 2),  # W's own events
        ("SET day = NULL WHERE id_utilisateur = 'j5'", 1),  # the first day of the 2-month window
        ("SET day = NULL, week = NULL WHERE id_utilisateur = 'c1' AND day < '2024-01-15'", 2),  # week A
    ],
)
def test_unenriched_events_in_the_window_refuse_the_week(analytics_conn, unenriched, count):
    # load_events commits events with day and week NULL; enrich_events fills them later. The views
    # select on day: computing before (or after a failed) enrichment would drop days silently.
    compute_week(analytics_conn, W, EVENTS_2)
    rows = _all_rows(analytics_conn)
    analytics_conn.execute(f"UPDATE evenement_engagement {unenriched}")
    with pytest.raises(EventsNotEnriched, match=rf"week 2024-02-12: {count} events .*Rerun enrich_events"):
        compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    assert _all_rows(analytics_conn) == rows  # nothing written, not even the views before the check


def test_unenriched_events_outside_the_window_do_not_block_the_week(analytics_conn):
    # An event loaded for 2024-04-02 and not enriched yet: W (whose window ends 2024-02-19) and W3
    # do not read it; the week of 2024-04-01 does.
    analytics_conn.execute(
        "INSERT INTO evenement_engagement (id, date_evenement, categorie, id_utilisateur, type_utilisateur)"
        " VALUES (1000, '2024-04-02 10:00+02', 'Message', 'j1', 'JEUNE')"
    )
    assert compute_week(analytics_conn, W, DISTINCT_DAYS_2)["analytics_engagement"] == 8
    compute_week(analytics_conn, W3, DISTINCT_DAYS_2)
    with pytest.raises(EventsNotEnriched, match=r"week 2024-04-01: 1 events .*2024-04-02T08:00:00\+00:00"):
        compute_week(analytics_conn, date(2024, 4, 1), DISTINCT_DAYS_2)


def test_a_failing_view_leaves_the_whole_week_as_it_was(analytics_conn):
    # The four views of a week are written in one transaction: when the last one fails, the three
    # before it are not half-updated to the new rule.
    compute_week(analytics_conn, W, EVENTS_2)
    rows = _all_rows(analytics_conn)
    analytics_conn.execute(
        "ALTER TABLE analytics_engagement_national ADD CONSTRAINT refuse_new_rows CHECK (week IS NULL) NOT VALID"
    )
    with pytest.raises(psycopg.errors.CheckViolation):
        compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    assert _engagement(analytics_conn, W) == ENGAGEMENT_EVENTS  # not ENGAGEMENT_DISTINCT_DAYS
    assert _all_rows(analytics_conn) == rows


def test_two_runs_of_a_week_at_once_wait_for_each_other(analytics_conn):
    # A scheduled run and the daily DAG's trigger may compute the same week at the same moment,
    # listing the views in any order. Both wait for the week's locks (taken in one order, so no
    # deadlock) and only then take their snapshot: the second reads the first's rows and the
    # events committed meanwhile, with no serialization failure.
    compute_week(analytics_conn, W, EVENTS_2)
    conninfo = _server_conninfo(analytics_conn.info.dbname)

    def run(views: tuple[str, ...], autocommit: bool) -> dict[str, int]:
        with psycopg.connect(conninfo, autocommit=autocommit) as conn:  # the operator's is not autocommit
            return compute_week(conn, W, DISTINCT_DAYS_2, views=views)

    with psycopg.connect(conninfo, autocommit=True) as blocker, ThreadPoolExecutor(2) as pool:
        lock = "hashtext('analytics_fonctionnalites'), %s::date - date '2000-01-03'"
        blocker.execute(f"SELECT pg_advisory_lock({lock})", (W,))
        runs = [pool.submit(run, WEEKLY_VIEWS, True), pool.submit(run, tuple(reversed(WEEKLY_VIEWS)), False)]
        deadline = time.monotonic() + 20
        waiting = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        while blocker.execute(waiting).fetchone()[0] < 2:
            assert time.monotonic() < deadline, "the two runs never waited for the week's lock"
            time.sleep(0.05)
        # c2's second day in W (02-14 and now 02-16): c2 becomes active under distinct_days >= 2.
        blocker.execute(
            "INSERT INTO evenement_engagement VALUES (1001, '2024-02-16 10:00+01', 'Message', 'Envoi',"
            " 'Texte', 'c2', 'CONSEILLER', 'MILO', NULL, '2024-02-12', '2024-02-16', NULL, '75', '11')"
        )
        blocker.execute(f"SELECT pg_advisory_unlock({lock})", (W,))
        results = [future.result(timeout=60) for future in runs]
    assert (
        results[0]
        == results[1]
        == {
            "analytics_fonctionnalites": 15,
            "analytics_fonctionnalites_demarches_ia": 6,
            "analytics_engagement": 8,
            "analytics_engagement_national": 4,
        }
    )
    assert _engagement(analytics_conn, W)[("MILO", "CONSEILLER", "75", "11")] == (2, 2, 2, 1, 0)  # c1 c2


def test_compute_week_refuses_a_connection_inside_a_transaction(analytics_conn):
    # Its locks must be taken before its transaction's snapshot: it cannot run inside the caller's.
    with psycopg.connect(_server_conninfo(analytics_conn.info.dbname)) as conn:
        conn.execute("SELECT 1")  # opens a transaction (not autocommit)
        with pytest.raises(ValueError, match="no transaction in progress"):
            compute_week(conn, W, DISTINCT_DAYS_2)


# ---------------------------------------------------------------------------------------------
# Through the ELT's own SQL: analytics_events_schema.sql, enrich_events_schema.sql and
# enrich_events.sql build `day`, `week` and the geography that the views read.
#
# Week under test W = 2024-02-12 again (windows in the module docstring). Paris is UTC+1, so a
# local Monday 00:00 is stored as Sunday 23:00 UTC. Several events sit where a UTC `day` or `week`
# would put them elsewhere: the expected numbers hold only with the configured time zone.

ELT_AGENCES = [("A75", "Agence Paris", "75", "11"), ("A69", "Agence Lyon", "69", "84")]
ELT_CONSEILLERS = [
    ("K1", "A75", "k1@example.org", "MILO", "CEJ"),
    ("K2", "A69", "k2@example.org", "MILO", "CEJ"),
    ("K3", None, "k3@example.org", "MILO", "CEJ"),  # no agence
]
# (jeune, current adviser, initial adviser); Y4 has events but is not in the table.
ELT_JEUNES = [("Y1", "K2", "K2"), ("Y2", "K2", "K2"), ("Y3", "K3", "K3")]
ELT_FEATURE_FLIPS = [("DEMARCHES_IA", "k1@example.org")]
JANUARY = (datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
FEBRUARY = (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))


def _raw(number: int, utc: str, user: str, *what: str) -> tuple:
    """A production event row (EVENT_COLUMNS): stored in UTC, as load_events copies it."""
    moment = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    user_type = "CONSEILLER" if user.startswith("K") else "JEUNE"
    return (number, moment, *(what or ACD), user, user_type, "MILO", None)


ELT_EVENTS = [
    _raw(1, "2024-01-18 23:30", "Y1"),  # Fri 01-19 00:30 Paris: 1st day of the 1-month window (UTC: 01-18)
    _raw(2, "2024-01-23 08:00", "K1", *MET),  # week C
    _raw(3, "2024-01-24 08:00", "K1", *MET),  # week C
    _raw(4, "2024-01-28 23:30", "K1", *MET),  # Mon 01-29 00:30 Paris: week D (UTC: Sunday of C)
    _raw(5, "2024-01-31 08:00", "K1", *MET),  # week D
    _raw(6, "2024-02-11 22:59:59", "Y2"),  # Sun 02-11 23:59:59 Paris: week E, not W
    _raw(7, "2024-02-11 23:00", "Y1"),  # Mon 02-12 00:00 Paris: week W (UTC: Sunday of E)
    _raw(8, "2024-02-13 09:00", "Y2"),
    _raw(9, "2024-02-14 09:00", "Y1"),
    _raw(10, "2024-02-12 08:00", "K1", *MET),
    _raw(11, "2024-02-15 08:00", "K1", *MET),
    _raw(12, "2024-02-13 10:00", "Y3"),  # adviser without agence: no geography
    _raw(13, "2024-02-13 11:00", "Y4"),  # unknown young person: no geography
    _raw(14, "2024-02-18 23:00", "Y2"),  # Mon 02-19 00:00 Paris: the next week (UTC: Sunday of W)
]
# Events 1-5 are enriched while Y1's adviser is K2 (Lyon); Y1 then moves to K1 (Paris) and events
# 6-14 are enriched: Y1's January event keeps 69/84, its February ones carry 75/11.


@pytest.fixture
def elt_conn():
    """A fresh database with the reference tables and the raw events in the ELT's own event table."""
    with _fresh_database() as conn:
        _insert_reference_tables(conn, ELT_AGENCES, ELT_CONSEILLERS, ELT_JEUNES, ELT_FEATURE_FLIPS)
        config = load_engagement_config()
        ensure_event_table(conn, config)  # analytics_events_schema.sql, as load_events runs it
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {config.event_table} ({', '.join(EVENT_COLUMNS)})"
                f" VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})",
                ELT_EVENTS,
            )
        yield conn


def _enrich(conn, interval: tuple[datetime, datetime]) -> int:
    """enrich_events.sql (and enrich_events_schema.sql on first use) over ``interval``; events enriched."""
    return enrich_events(conn, *interval, load_engagement_config()).events


def test_weekly_views_from_the_elt_enrichment(elt_conn):
    config = load_engagement_config()
    assert config.timezone == "Europe/Paris" and config.event_table == "evenement_engagement"
    assert _enrich(elt_conn, JANUARY) == 5
    # February is loaded but not enriched yet: W reads events 6-14, so it refuses.
    with pytest.raises(EventsNotEnriched, match=r"week 2024-02-12: 9 events .*Rerun enrich_events"):
        compute_week(elt_conn, W, DISTINCT_DAYS_2)
    elt_conn.execute("UPDATE jeune SET id_conseiller = 'K1' WHERE id = 'Y1'")
    assert _enrich(elt_conn, FEBRUARY) == 9

    assert compute_week(elt_conn, W, DISTINCT_DAYS_2) == {
        "analytics_fonctionnalites": 6,
        "analytics_fonctionnalites_demarches_ia": 3,
        "analytics_engagement": 4,
        "analytics_engagement_national": 2,
    }
    # Events of W (local day 02-12 .. 02-18): 7 (Monday 00:00 Paris), 8, 9, 12, 13 for young people,
    # 10, 11 for K1. Not 6 (Sunday 23:59:59 Paris) nor 14 (the next Monday 00:00 Paris).
    assert _fonctionnalites(elt_conn, "analytics_fonctionnalites", W) == {
        ("MILO", "JEUNE", "categorie_action_nom", *ACD): (5, 4),  # Y1 x2, Y2, Y3, Y4
        ("MILO", "JEUNE", "categorie_action", "Action", "Creation", None): (5, 4),
        ("MILO", "JEUNE", "categorie", "Action", None, None): (5, 4),
        ("MILO", "CONSEILLER", "categorie_action_nom", *MET): (2, 1),  # K1
        ("MILO", "CONSEILLER", "categorie_action", "Message", "Envoi", None): (2, 1),
        ("MILO", "CONSEILLER", "categorie", "Message", None, None): (2, 1),
    }
    # Y1's current adviser K1 has DEMARCHES_IA: events 7 and 9.
    assert _fonctionnalites(elt_conn, "analytics_fonctionnalites_demarches_ia", W) == {
        ("MILO", "JEUNE", "categorie_action_nom", *ACD): (2, 1),
        ("MILO", "JEUNE", "categorie_action", "Action", "Creation", None): (2, 1),
        ("MILO", "JEUNE", "categorie", "Action", None, None): (2, 1),
    }
    # distinct_days >= 2. Y1: B (01-19) 1 day, W (02-12, 02-14) 2 days: active in W, 1 of 6.
    # Y2: E (02-11) 1 day, W (02-13) 1 day: never active. K1: C (01-23, 01-24), D (01-29, 01-31),
    # W (02-12, 02-15): active in W, 3 of 6. Y3, Y4: one event each, no geography.
    assert _engagement(elt_conn, W) == {
        ("MILO", "JEUNE", "75", "11"): (1, 1, 1, 0, 0),  # Y1 in February
        ("MILO", "JEUNE", "69", "84"): (2, 2, 0, 0, 0),  # Y1 on 01-19 (local) and Y2; neither active here
        ("MILO", "JEUNE", NR, NR): (2, 2, 0, 0, 0),  # Y3 (adviser without agence), Y4 (unknown)
        ("MILO", "CONSEILLER", "75", "11"): (1, 1, 1, 1, 0),  # K1
    }
    assert _engagement_national(elt_conn, W) == {
        ("MILO", "JEUNE"): (4, 4, 1, 0, 0),  # Y1 counts once; active Y1
        ("MILO", "CONSEILLER"): (1, 1, 1, 1, 0),
    }


def test_a_recomputed_week_reads_current_flags_but_geography_as_enriched(elt_conn):
    _enrich(elt_conn, JANUARY)
    elt_conn.execute("UPDATE jeune SET id_conseiller = 'K1' WHERE id = 'Y1'")
    _enrich(elt_conn, FEBRUARY)
    compute_week(elt_conn, W, DISTINCT_DAYS_2)
    engagement = _engagement(elt_conn, W)
    # Later, Y2 moves to K1 (Paris) and K1 loses DEMARCHES_IA. Recomputing W without enriching again:
    elt_conn.execute("UPDATE jeune SET id_conseiller = 'K1' WHERE id = 'Y2'")
    elt_conn.execute("DELETE FROM feature_flip")
    assert compute_week(elt_conn, W, DISTINCT_DAYS_2)["analytics_fonctionnalites_demarches_ia"] == 0
    assert _engagement(elt_conn, W) == engagement  # Y2 still in 69/84: its events' geography
    # Enriching February again follows the move: Y2's events 6 and 8 now carry 75/11.
    _enrich(elt_conn, FEBRUARY)
    compute_week(elt_conn, W, DISTINCT_DAYS_2)
    assert _engagement(elt_conn, W)[("MILO", "JEUNE", "75", "11")] == (2, 2, 1, 0, 0)  # Y1 Y2
    assert _engagement(elt_conn, W)[("MILO", "JEUNE", "69", "84")] == (1, 1, 0, 0, 0)  # Y1 on 01-19


# ---------------------------------------------------------------------------------------------
# A recompute overlapping copy_production's restore, and bounded lock waits


def _wait_for(conn, query: str, params=(), timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not conn.execute(query, params).fetchone()[0]:
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        time.sleep(0.05)


def test_a_recompute_during_a_restore_reads_the_restored_tables(analytics_conn):
    """copy_production's pg_restore --clean --single-transaction drops, recreates and fills the reference tables
    in one transaction. A week computed meanwhile must read them as restored, not empty (0 rows, no error)."""
    compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    conninfo = _server_conninfo(analytics_conn.info.dbname)
    with psycopg.connect(conninfo) as restore, ThreadPoolExecutor(1) as pool:
        # What pg_restore does, held open: every reference table dropped and recreated with its rows.
        restore.execute("DROP TABLE agence, conseiller, jeune, feature_flip")
        _insert_reference_tables(restore, AGENCES, CONSEILLERS, JEUNES, FEATURE_FLIPS)

        def recompute() -> dict[str, int]:
            with psycopg.connect(conninfo, application_name="recompute_during_restore") as conn:
                return compute_week(conn, W, DISTINCT_DAYS_2)

        running = pool.submit(recompute)
        # The recompute has started its week transaction and waits (for the restore's locks).
        _wait_for(
            analytics_conn,
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'recompute_during_restore'"
            " AND xact_start IS NOT NULL AND (wait_event_type = 'Lock' OR state = 'idle in transaction')",
        )
        time.sleep(0.5)
        restore.commit()
        rows = running.result(timeout=60)
    assert rows["analytics_fonctionnalites_demarches_ia"] == 6
    assert _fonctionnalites(analytics_conn, "analytics_fonctionnalites_demarches_ia", W) == DEMARCHES_IA_W


def test_a_week_lock_held_too_long_fails_with_a_clear_error(analytics_conn):
    compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    rows = _all_rows(analytics_conn)
    with psycopg.connect(_server_conninfo(analytics_conn.info.dbname), autocommit=True) as other_run:
        lock = "hashtext('analytics_engagement'), %s::date - date '2000-01-03'"
        other_run.execute(f"SELECT pg_advisory_lock({lock})", (W,))
        started = time.monotonic()
        with pytest.raises(
            LockWaitTimeout, match="week 2024-02-12: another computation of this week has held"
        ):
            compute_week(analytics_conn, W, DISTINCT_DAYS_2, lock_timeout_seconds=1)
        assert time.monotonic() - started < 10
    assert _all_rows(analytics_conn) == rows
    # The locks it took before the one it waited for are given back: the next run is not blocked.
    assert (
        compute_week(analytics_conn, W, DISTINCT_DAYS_2, lock_timeout_seconds=1)["analytics_engagement"] == 8
    )


def test_reference_tables_locked_too_long_fail_with_a_clear_error(analytics_conn):
    compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    with psycopg.connect(_server_conninfo(analytics_conn.info.dbname)) as restore:
        restore.execute("LOCK TABLE jeune IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(
            LockWaitTimeout, match="reference tables conseiller, feature_flip, jeune stayed locked"
        ):
            compute_week(analytics_conn, W, DISTINCT_DAYS_2, lock_timeout_seconds=1)
        assert time.monotonic() - started < 10
        # A week that reads no reference table is not held up.
        assert compute_week(analytics_conn, W, DISTINCT_DAYS_2, views=["analytics_engagement"]) == {
            "analytics_engagement": 8
        }


# ---------------------------------------------------------------------------------------------
# The edges of the windows, one user each (on top of the fixture), so that moving an edge by one
# day (`<` to `<=`, `>=` to `>` in the SQL) changes a number.

EDGE_USERS = {
    # one event, on the next Monday 00:00 local (day = week_end): in W3 only, never in W
    "n1": [("2024-02-19 00:00", "BORD_NEXT", "DN", "RN")],
    # active in weeks B, C and W (2 days each); one more event on Monday of week A 00:00 (day =
    # W - 35, the first day of W's 6 weeks), the only one carrying BORD_35 / D35
    "n2": [
        ("2024-01-08 00:00", "BORD_35", "D35", "R35"),
        ("2024-01-15 10:00", "BORD_6", "D6", "R6"),
        ("2024-01-16 10:00", "BORD_6", "D6", "R6"),
        ("2024-01-22 10:00", "BORD_6", "D6", "R6"),
        ("2024-01-23 10:00", "BORD_6", "D6", "R6"),
        ("2024-02-13 10:00", "BORD_6", "D6", "R6"),
        ("2024-02-14 10:00", "BORD_6", "D6", "R6"),
    ],
    # active in W (2 days); its event on Monday W 00:00 (day = W) is the only one carrying BORD_W
    "n3": [("2024-02-12 00:00", "BORD_W", "DW", "RW"), ("2024-02-14 10:00", "BORD_W2", "DW2", "RW2")],
}


def _insert_edge_users(conn) -> None:
    rows = []
    for number, (user, (local_time, structure, department, region)) in enumerate(
        ((user, event) for user, events in EDGE_USERS.items() for event in events), start=5000
    ):
        moment = datetime.strptime(local_time, "%Y-%m-%d %H:%M").replace(tzinfo=PARIS)
        day = moment.date()
        week = day - timedelta(days=day.weekday())
        rows.append(
            (number, moment, *MET, user, "CONSEILLER", structure, None, week, day, None, department, region)
        )
    with conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO evenement_engagement VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )


def _edge_cells(rows: dict[tuple, tuple]) -> dict[tuple, tuple]:
    return {key: value for key, value in rows.items() if key[0].startswith("BORD")}


def test_each_window_edge_counts_its_edge_day_once(analytics_conn):
    _insert_edge_users(analytics_conn)
    compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    # (2 months, 1 month, active in W, active 3 of 6, active 4 of 6)
    assert _edge_cells(_engagement(analytics_conn, W)) == {
        # n2 on W - 35 only: in the 2 months and the 6 weeks (3 of 6: B, C, W), not the month
        ("BORD_35", "CONSEILLER", "D35", "R35"): (1, 0, 0, 1, 0),
        ("BORD_6", "CONSEILLER", "D6", "R6"): (1, 1, 1, 1, 0),
        # n3 on Monday W 00:00: in the week, active there (02-12 and 02-14)
        ("BORD_W", "CONSEILLER", "DW", "RW"): (1, 1, 1, 0, 0),
        ("BORD_W2", "CONSEILLER", "DW2", "RW2"): (1, 1, 1, 0, 0),
        # no BORD_NEXT: n1's event is on week_end, the first day of the next week
    }
    assert _edge_cells(_engagement_national(analytics_conn, W)) == {
        ("BORD_35", "CONSEILLER"): (1, 0, 0, 1, 0),
        ("BORD_6", "CONSEILLER"): (1, 1, 1, 1, 0),
        ("BORD_W", "CONSEILLER"): (1, 1, 1, 0, 0),
        ("BORD_W2", "CONSEILLER"): (1, 1, 1, 0, 0),
    }
    # W's events: n2's and n3's of the week (n3's Monday 00:00 included), never n1's next Monday.
    assert {key[0] for key in _fonctionnalites(analytics_conn, "analytics_fonctionnalites", W)} == {
        "MILO",
        "BORD_6",
        "BORD_W",
        "BORD_W2",
    }
    # The fixture's own cells are as before the edge users came.
    assert {
        k: v
        for k, v in _engagement(analytics_conn, W).items()
        if k not in _edge_cells(_engagement(analytics_conn, W))
    } == ENGAGEMENT_DISTINCT_DAYS

    compute_week(analytics_conn, W3, DISTINCT_DAYS_2)  # n1's event is W3's
    assert _edge_cells(_engagement_national(analytics_conn, W3))[("BORD_NEXT", "CONSEILLER")] == (
        1,
        1,
        0,
        0,
        0,
    )
    assert ("BORD_NEXT", "CONSEILLER", "categorie", "Message", None, None) in _fonctionnalites(
        analytics_conn, "analytics_fonctionnalites", W3
    )


@pytest.mark.parametrize(
    ("moment", "refused"),
    [
        (
            "2023-12-17 23:59:59+00",
            False,
        ),  # just before read_window(W): [week_end - 63 days, week_end + 1 day) UTC
        ("2023-12-18 00:00:00+00", True),  # its first instant
        ("2024-02-19 23:59:59+00", True),  # its last second
        ("2024-02-20 00:00:00+00", False),  # its end
    ],
)
def test_the_enrichment_check_reads_exactly_its_window(analytics_conn, moment, refused):
    analytics_conn.execute(
        "INSERT INTO evenement_engagement (id, date_evenement, categorie, id_utilisateur, type_utilisateur)"
        " VALUES (2000, %s, 'Message', 'j1', 'JEUNE')",
        (moment,),
    )
    if refused:
        with pytest.raises(EventsNotEnriched, match="week 2024-02-12: 1 events"):
            compute_week(analytics_conn, W, DISTINCT_DAYS_2)
    else:
        assert compute_week(analytics_conn, W, DISTINCT_DAYS_2)["analytics_engagement"] == 8
