"""The four weekly engagement views against the real PostgreSQL, checked on hand-computed numbers.

A small fixture of 12 users over Dec 2023 - Feb 2024 (time zone Europe/Paris, winter: UTC+1).
The week under test is W = Monday 2024-02-12, so week_end = 2024-02-19 and the windows are:
  2 months [2023-12-19, 2024-02-19)   1 month [2024-01-19, 2024-02-19)
  6 weeks  [2024-01-08, 2024-02-19) = weeks A 01-08, B 01-15, C 01-22, D 01-29, E 02-05, W 02-12
Every expected number below is written literally, with the reasoning next to it.
"""

from __future__ import annotations

import os
import random
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from analytics.engagement.config import ActiveUserRule, load_engagement_config
from analytics.engagement.weekly_views import WEEKLY_VIEWS, compute_week, view_sql_path

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

SCHEMA = """
CREATE TABLE evenement_engagement (
    id bigint PRIMARY KEY, date_evenement timestamptz, categorie text, action text, nom text,
    id_utilisateur text, type_utilisateur text, structure text, code text, week date, day date,
    agence text, department text, region text);
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


@pytest.fixture
def analytics_conn():
    """A fresh database with the input tables and the fixture above, dropped afterwards."""
    name = f"test_views_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_server_conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(_server_conninfo(name), autocommit=True) as conn:
            conn.execute(SCHEMA)
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO evenement_engagement VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    _event_rows(),
                )
                cursor.executemany("INSERT INTO agence VALUES (%s, %s, %s, %s)", AGENCES)
                cursor.executemany("INSERT INTO conseiller VALUES (%s, %s, %s, %s, %s)", CONSEILLERS)
                cursor.executemany(
                    "INSERT INTO jeune VALUES (%s, %s, %s, 'MILO', 'CEJ')",
                    JEUNES,
                )
                cursor.executemany(
                    "INSERT INTO feature_flip (feature_tag, email_conseiller) VALUES (%s, %s)", FEATURE_FLIPS
                )
            yield conn
    finally:
        with psycopg.connect(_server_conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
    assert _fonctionnalites(analytics_conn, "analytics_fonctionnalites_demarches_ia", W) == {
        ("MILO", "JEUNE", "categorie_action_nom", "Action", "Creation", "Demarche"): (4, 2),
        ("MILO", "JEUNE", "categorie_action_nom", "Message", "Envoi", "Texte"): (1, 1),  # j2
        ("MILO", "JEUNE", "categorie_action", "Action", "Creation", None): (4, 2),
        ("MILO", "JEUNE", "categorie_action", "Message", "Envoi", None): (1, 1),
        ("MILO", "JEUNE", "categorie", "Action", None, None): (4, 2),
        ("MILO", "JEUNE", "categorie", "Message", None, None): (1, 1),
    }


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
