"""The engagement ELT's three steps against real PostgreSQL databases (no mocks).

Each test gets two fresh databases on the test stack's server, ``test_elt_<id>_prod`` and
``test_elt_<id>_analytics``, reachable through the connection ids ``test_elt_prod`` and
``test_elt_analytics`` (``AIRFLOW_CONN_*`` set for the test), filled with a small hand-made
production data set around the week boundary of Monday 2024-01-08 in Europe/Paris.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

import pendulum
import psycopg
import pytest
from psycopg import sql

from analytics.engagement.config import SQL_DIR, EngagementConfig, load_engagement_config
from analytics.engagement.elt import copy_production, enrich_events, ensure_event_table, load_events
from analytics.engagement.events import EVENT_COLUMNS, LoadCountMismatch
from analytics.engagement.guard import UnsafeCopyTarget
from analytics.engagement.load_log import days_not_ready
from analytics.operators.engagement import (
    ComputeWeeklyViewsOperator,
    CopyProductionOperator,
    EnrichEventsOperator,
    LoadEventsOperator,
    WeeksLoadedSensor,
)
from analytics.stores import postgres
from analytics.stores.postgres import DumpRestoreError

PROD_CONN_ID = "test_elt_prod"
ANALYTICS_CONN_ID = "test_elt_analytics"
# Days in Europe/Paris (UTC+1 in January) as UTC half-open intervals.
SUNDAY = (datetime(2024, 1, 6, 23, tzinfo=UTC), datetime(2024, 1, 7, 23, tzinfo=UTC))
MONDAY = (datetime(2024, 1, 7, 23, tzinfo=UTC), datetime(2024, 1, 8, 23, tzinfo=UTC))
REFERENCE_TABLES = ("agence", "conseiller", "feature_flip", "jeune")

AGENCES = [
    ("A1", "Agence Paris", "75", "11"),
    ("A2", "Agence Lyon", "69", "84"),
    ("A3", "Agence sans code", None, None),
]
CONSEILLERS = [
    ("C1", "A1", "c1@example.org", "MILO", "CEJ"),
    ("C2", "A2", "c2@example.org", "POLE_EMPLOI", "AIJ"),
    ("C3", None, "c3@example.org", "MILO", "PACEA"),  # no agence
]
JEUNES = [
    ("J1", "C1", "C2", "MILO", "CEJ"),  # moved from C2 (Lyon) to C1 (Paris)
    ("J2", "C3", "C3", "MILO", "CEJ"),  # adviser without agence
    ("J3", None, "C1", "MILO", "CEJ"),  # no current adviser
    ("J4", "C2", "C2", "POLE_EMPLOI", "AIJ"),
]


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# id, date_evenement, categorie, action, nom, id_utilisateur, type_utilisateur, structure, code
EVENTS = [
    (1, _utc(2024, 1, 7, 23, 30), "Action", "Création", "Action", "J1", "JEUNE", "MILO", "ACTION_CREEE"),
    (2, _utc(2024, 1, 7, 22, 59, 59), "Message", "Envoi", "Message", "J1", "JEUNE", "MILO", "MESSAGE_ENVOYE"),
    (3, _utc(2024, 1, 7, 23, 0), "Rendez-vous", "Création", "RDV", "C1", "CONSEILLER", "MILO", "RDV_CREE"),
    (4, _utc(2024, 1, 8, 10, 0), "Message", "Envoi", "Message", "C3", "CONSEILLER", "MILO", "MESSAGE_ENVOYE"),
    (5, _utc(2024, 1, 8, 11, 0), "Action", "Création", "Action", "J2", "JEUNE", "MILO", "ACTION_CREEE"),
    (6, _utc(2024, 1, 8, 12, 0), "Action", "Création", "Action", "J3", "JEUNE", "MILO", "ACTION_CREEE"),
    (7, _utc(2024, 1, 8, 13, 0), "Offre", "Consultation", "Offre", "J-unknown", "JEUNE", None, "OFFRE"),
    (
        8,
        datetime(2024, 1, 8, 22, 59, 59, 999999, tzinfo=UTC),
        "Action",
        None,
        None,
        "J4",
        "JEUNE",
        None,
        None,
    ),
    (
        9,
        _utc(2024, 1, 8, 23, 0),
        "Action",
        "Création",
        "Action",
        "J4",
        "JEUNE",
        "POLE_EMPLOI",
        "ACTION_CREEE",
    ),
    (
        10,
        _utc(2024, 1, 7, 12, 0),
        "Session",
        "Connexion",
        None,
        "C2",
        "CONSEILLER",
        "POLE_EMPLOI",
        "CONNEXION",
    ),
    (11, _utc(2024, 1, 8, 9, 0), "Session", "Connexion", None, "J4", "JEUNE", "POLE_EMPLOI", "CONNEXION"),
]
MONDAY_IDS = [
    1,
    3,
    4,
    5,
    6,
    7,
    8,
    11,
]  # [Mon 00:00, Tue 00:00) Paris; 2 is Sunday 23:59:59, 9 is Tuesday 00:00
SUNDAY_IDS = [2, 10]


@dataclass(frozen=True)
class Databases:
    prod: str
    analytics: str
    server_url: str

    def url(self, database: str) -> str:
        return f"{self.server_url}/{database}"

    def connect(self, database: str, **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url(database), **kwargs)


def _server_url() -> str:
    uri = os.environ.get("AIRFLOW_CONN_POSTGRES_PROD")
    if not uri:
        pytest.fail("AIRFLOW_CONN_POSTGRES_PROD is not set: start the test stack with `make stack-test`")
    return uri.partition("?")[0].rsplit("/", 1)[0]


def _drop(server_url: str, *names: str) -> None:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        for name in names:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def databases(monkeypatch) -> Databases:
    server_url = _server_url()
    prefix = f"test_elt_{uuid.uuid4().hex[:10]}"
    names = Databases(prod=f"{prefix}_prod", analytics=f"{prefix}_analytics", server_url=server_url)
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as admin:
        for name in (names.prod, names.analytics):
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    monkeypatch.setenv(f"AIRFLOW_CONN_{PROD_CONN_ID.upper()}", names.url(names.prod))
    monkeypatch.setenv(f"AIRFLOW_CONN_{ANALYTICS_CONN_ID.upper()}", names.url(names.analytics))
    try:
        yield names
    finally:
        _drop(server_url, names.prod, names.analytics)


@pytest.fixture
def production(databases: Databases) -> Databases:
    """The hand-made production data set in the test's prod database."""
    with databases.connect(databases.prod) as conn:
        postgres.run_sql_file(conn, SQL_DIR / "prod_schema.sql")
        postgres.copy_rows_to_table(
            conn, "agence", ("id", "nom_agence", "code_departement", "code_region"), AGENCES
        )
        postgres.copy_rows_to_table(
            conn, "conseiller", ("id", "id_agence", "email", "structure", "dispositif"), CONSEILLERS
        )
        postgres.copy_rows_to_table(
            conn, "jeune", ("id", "id_conseiller", "id_conseiller_initial", "structure", "dispositif"), JEUNES
        )
        conn.execute(
            "INSERT INTO feature_flip (feature_tag, email_conseiller) VALUES ('DEMARCHES_IA', 'c1@example.org')"
        )
        postgres.copy_rows_to_table(conn, "evenement_engagement", EVENT_COLUMNS, EVENTS)
        conn.execute(
            "INSERT INTO log_api_partenaire (date, partenaire, methode, chemin, statut, duree_ms) "
            "VALUES (now(), 'immersion', 'GET', '/v1/offres', 200, 12)"
        )
        conn.execute(
            "INSERT INTO log_job (job_type, date_debut, succes) VALUES ('NETTOYER_DONNEES', now(), true)"
        )
    return databases


@pytest.fixture
def config() -> EngagementConfig:
    return replace(
        load_engagement_config(), source_connection_id=PROD_CONN_ID, target_connection_id=ANALYTICS_CONN_ID
    )


def _rows(conn: psycopg.Connection, query: str, params=None) -> list[tuple]:
    return conn.execute(query, params).fetchall()


def _events(conn: psycopg.Connection, interval: tuple[datetime, datetime] | None = None) -> list[tuple]:
    columns = ", ".join(EVENT_COLUMNS)
    where = "WHERE date_evenement >= %s AND date_evenement < %s" if interval else ""
    return _rows(conn, f"SELECT {columns} FROM evenement_engagement {where} ORDER BY id", interval)


def _tables(conn: psycopg.Connection) -> set[str]:
    return {
        name
        for (name,) in _rows(conn, "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace")
    }


def _load(config: EngagementConfig, interval: tuple[datetime, datetime]):
    with postgres.connect(PROD_CONN_ID) as source, postgres.connect(ANALYTICS_CONN_ID) as target:
        return load_events(source, target, *interval, config)


def _enrich(config: EngagementConfig, interval: tuple[datetime, datetime]):
    with postgres.connect(ANALYTICS_CONN_ID) as target:
        return enrich_events(target, *interval, config)


# ---------------------------------------------------------------- the guard


def test_guard_refuses_the_source_as_target(production: Databases, config, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEST_ELT_PROD_ALIAS", production.url(production.prod).replace("127.0.0.1", "localhost")
    )
    for target in (PROD_CONN_ID, "test_elt_prod_alias"):
        with pytest.raises(UnsafeCopyTarget, match="the source itself"):
            copy_production(PROD_CONN_ID, target, config)
    with postgres.connect(PROD_CONN_ID) as source, postgres.connect("test_elt_prod_alias") as same:
        with pytest.raises(UnsafeCopyTarget, match="the source itself"):
            load_events(source, same, *MONDAY, config)
    with production.connect(production.prod) as conn:
        assert len(_events(conn)) == len(EVENTS)
        assert len(_rows(conn, "SELECT * FROM agence")) == len(AGENCES)


def test_guard_refuses_a_deny_listed_target_before_writing(production: Databases, config) -> None:
    denied = replace(
        config, production_database_names=(*config.production_database_names, production.analytics.upper())
    )
    with pytest.raises(UnsafeCopyTarget, match="deny-list"):
        copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, denied)
    with postgres.connect(PROD_CONN_ID) as source, postgres.connect(ANALYTICS_CONN_ID) as target:
        with pytest.raises(UnsafeCopyTarget, match="deny-list"):
            load_events(source, target, *MONDAY, denied)
        with pytest.raises(UnsafeCopyTarget, match="deny-list"):
            enrich_events(target, *MONDAY, denied)
    with production.connect(production.analytics) as conn:
        assert _tables(conn) == set()


def test_guard_refuses_the_stacks_prod_database_with_the_real_config(monkeypatch) -> None:
    """The configured connection ids: analytics -> prod is refused before pg_dump/pg_restore run."""

    def tripwire(*args, **kwargs):
        raise AssertionError("dump_and_restore must not run for a refused target")

    monkeypatch.setattr(postgres, "dump_and_restore", tripwire)
    real = load_engagement_config()
    with pytest.raises(UnsafeCopyTarget, match="'prod' is on the production deny-list"):
        copy_production(real.target_connection_id, real.source_connection_id, real)
    with pytest.raises(UnsafeCopyTarget, match="the source itself"):
        copy_production(real.source_connection_id, real.source_connection_id, real)


# ---------------------------------------------------------------- copy_production


def test_copy_production_copies_reference_tables_and_not_events_or_logs(
    production: Databases, config
) -> None:
    # The analytics event table exists already (with an event the restore must not touch).
    with production.connect(production.analytics) as conn:
        ensure_event_table(conn, config)
        postgres.copy_rows_to_table(conn, "evenement_engagement", EVENT_COLUMNS, [EVENTS[0]])

    result = copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)

    assert result.tables == {"agence": 3, "conseiller": 3, "feature_flip": 1, "jeune": 4}
    assert sorted(result.sequences_not_copied) == [
        "public.log_api_partenaire_id_seq",
        "public.log_job_id_seq",
    ]
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        for table in REFERENCE_TABLES:
            query = f"SELECT * FROM {table} ORDER BY 1"
            assert _rows(target, query) == _rows(source, query), table
        tables = _tables(target)
        assert not {"log_api_partenaire", "log_job", "log_api_partenaire_id_seq", "log_job_id_seq"} & tables
        assert _events(target) == [EVENTS[0]]
        # The foreign key came along: the copy is a working schema, not just rows.
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            target.execute("INSERT INTO conseiller (id, id_agence) VALUES ('C9', 'nowhere')")


def test_copy_production_twice_replaces_the_copies(production: Databases, config) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    with production.connect(production.prod) as conn:
        conn.execute("UPDATE jeune SET id_conseiller = 'C2' WHERE id = 'J1'")
        conn.execute("INSERT INTO agence VALUES ('A4', 'Agence Lille', '59', '32')")
        conn.execute("DELETE FROM feature_flip")

    result = copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)

    assert result.tables == {"agence": 4, "conseiller": 3, "feature_flip": 0, "jeune": 4}
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        for table in REFERENCE_TABLES:
            query = f"SELECT * FROM {table} ORDER BY 1"
            assert _rows(target, query) == _rows(source, query), table


def test_copy_production_fails_loudly_with_the_programs_errors(
    production: Databases, config, monkeypatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_TEST_ELT_MISSING", production.url(f"{production.analytics}_missing"))
    with pytest.raises(DumpRestoreError, match=r"pg_restore exit [1-9](.|\n)*does not exist"):
        copy_production(PROD_CONN_ID, "test_elt_missing", config)
    with pytest.raises(DumpRestoreError, match=r"pg_dump exit [1-9](.|\n)*does not exist"):
        postgres.dump_and_restore("test_elt_missing", ANALYTICS_CONN_ID, ["evenement_engagement"])


def test_a_failed_restore_leaves_the_target_unchanged(production: Databases, config) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    with production.connect(production.analytics) as conn:
        before = {table: _rows(conn, f"SELECT * FROM {table} ORDER BY 1") for table in REFERENCE_TABLES}
        # A view on a copied table makes `DROP TABLE jeune` fail halfway through the restore.
        conn.execute("CREATE VIEW jeune_view AS SELECT id FROM jeune")
    with production.connect(production.prod) as conn:
        conn.execute("DELETE FROM agence WHERE id = 'A3'")

    with pytest.raises(DumpRestoreError, match="jeune_view"):
        copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)

    with production.connect(production.analytics) as conn:
        assert {
            table: _rows(conn, f"SELECT * FROM {table} ORDER BY 1") for table in REFERENCE_TABLES
        } == before


# ---------------------------------------------------------------- load_events


def test_load_events_gives_exactly_the_source_rows_of_the_day(production: Databases, config) -> None:
    result = _load(config, MONDAY)

    assert (result.deleted, result.loaded, result.source_count) == (0, len(MONDAY_IDS), len(MONDAY_IDS))
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        loaded = _events(target)
        assert loaded == _events(source, MONDAY)
    assert [row[0] for row in loaded] == MONDAY_IDS
    assert loaded == [event for event in EVENTS if event[0] in MONDAY_IDS]  # microseconds, NULLs, text intact


@pytest.mark.parametrize("step", ["load", "enrich"])
def test_a_load_or_enrichment_waits_for_the_event_tables_writer_lock(
    production: Databases, config, step
) -> None:
    """Concurrent runs (a backfill four days at a time) take turns: each step waits while another holds the lock."""
    import threading

    from analytics.engagement.elt import lock_event_table

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)  # the enrichment reads the reference tables
    _load(config, MONDAY)
    done, errors = threading.Event(), []

    def run_step() -> None:
        try:
            (_load if step == "load" else _enrich)(config, MONDAY)
            done.set()
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    with production.connect(production.analytics) as holder, holder.transaction():
        lock_event_table(holder, config)
        worker = threading.Thread(target=run_step, daemon=True)
        worker.start()
        assert not done.wait(2.0), f"{step} ran while another transaction held the event table's lock"
    worker.join(timeout=60)
    assert done.is_set() and not errors, f"{step} did not finish once the lock was released: {errors}"


def test_rerunning_a_day_leaves_identical_rows_and_other_days_alone(production: Databases, config) -> None:
    _load(config, SUNDAY)
    _load(config, MONDAY)
    with production.connect(production.analytics) as target:
        first = _events(target)

    again = _load(config, MONDAY)

    assert (again.deleted, again.loaded) == (len(MONDAY_IDS), len(MONDAY_IDS))
    with production.connect(production.analytics) as target:
        assert _events(target) == first
        assert [row[0] for row in _events(target, SUNDAY)] == SUNDAY_IDS


def test_a_rerun_follows_changes_in_the_source(production: Databases, config) -> None:
    _load(config, MONDAY)
    with production.connect(production.prod) as conn:
        conn.execute("DELETE FROM evenement_engagement WHERE id = 4")
        conn.execute("UPDATE evenement_engagement SET action = 'Suppression' WHERE id = 5")
        conn.execute(
            "INSERT INTO evenement_engagement VALUES "
            "(12, '2024-01-08 15:00+00', 'Action', 'Création', 'Action', 'J1', 'JEUNE', 'MILO', 'ACTION_CREEE')"
        )

    _load(config, MONDAY)

    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        assert _events(target) == _events(source, MONDAY)


def test_a_count_mismatch_fails_and_rolls_back(production: Databases, config) -> None:
    _load(config, MONDAY)
    with production.connect(production.analytics) as conn:
        before = _events(conn)
        # A trigger that silently drops events with no action: the COPY inserts one row fewer.
        conn.execute(
            """
            CREATE FUNCTION drop_null_action() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN IF NEW.action IS NULL THEN RETURN NULL; END IF; RETURN NEW; END $$;
            CREATE TRIGGER drop_null_action BEFORE INSERT ON evenement_engagement
                FOR EACH ROW EXECUTE FUNCTION drop_null_action();
            """
        )

    with pytest.raises(
        LoadCountMismatch, match=f"loaded {len(MONDAY_IDS) - 1} events .* holds {len(MONDAY_IDS)}"
    ):
        _load(config, MONDAY)

    with production.connect(production.analytics) as conn:
        assert _events(conn) == before


# ---------------------------------------------------------------- enrich_events


def _enriched(conn: psycopg.Connection) -> dict[int, tuple]:
    rows = _rows(
        conn, "SELECT id, week, day, agence, department, region FROM evenement_engagement ORDER BY id"
    )
    return {row[0]: row[1:] for row in rows}


def test_enrich_sets_week_day_and_geography(production: Databases, config) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    for interval in (SUNDAY, MONDAY):
        _load(config, interval)

    sunday = _enrich(config, SUNDAY)
    monday = _enrich(config, MONDAY)

    assert sunday.schema_changed and not monday.schema_changed
    assert (sunday.events, monday.events) == (len(SUNDAY_IDS), len(MONDAY_IDS))
    assert monday.by_geography_status == {
        "resolved": 4,  # events 1 (J1), 3 (C1), 8 and 11 (J4)
        "adviser without agence": 2,  # 4 (C3), 5 (J2 -> C3)
        "young person without adviser": 1,  # 6 (J3)
        "unknown young person": 1,  # 7
    }
    jan_1, jan_7, jan_8 = date(2024, 1, 1), date(2024, 1, 7), date(2024, 1, 8)
    paris, lyon = ("A1", "75", "11"), ("A2", "69", "84")
    nothing = (None, None, None)
    with production.connect(production.analytics) as conn:
        assert _enriched(conn) == {
            1: (
                jan_8,
                jan_8,
                *paris,
            ),  # Sunday 23:30 UTC = Monday 00:30 Paris: the new week; J1's current adviser
            2: (jan_1, jan_7, *paris),  # Sunday 23:59:59 Paris: the old week
            3: (jan_8, jan_8, *paris),  # exactly Monday 00:00 Paris; a CONSEILLER event
            4: (jan_8, jan_8, *nothing),  # adviser without agence
            5: (jan_8, jan_8, *nothing),  # young person whose adviser has no agence
            6: (jan_8, jan_8, *nothing),  # young person without adviser
            7: (jan_8, jan_8, *nothing),  # unknown user
            8: (jan_8, jan_8, *lyon),  # Monday 23:59:59.999999 Paris
            10: (jan_1, jan_7, *lyon),
            11: (jan_8, jan_8, *lyon),
        }


def test_enrich_rerun_rewrites_nothing_and_leaves_identical_rows(production: Databases, config) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _load(config, MONDAY)
    first = _enrich(config, MONDAY)
    with production.connect(production.analytics) as conn:
        before = _rows(conn, "SELECT * FROM evenement_engagement ORDER BY id")

    again = _enrich(config, MONDAY)

    assert first.rewritten == len(MONDAY_IDS)
    assert again.rewritten == 0
    assert again.by_geography_status == first.by_geography_status
    with production.connect(production.analytics) as conn:
        assert _rows(conn, "SELECT * FROM evenement_engagement ORDER BY id") == before


def test_enrich_follows_the_configured_time_zone(production: Databases, config) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    whole = (SUNDAY[0], MONDAY[1])
    _load(config, whole)

    _enrich(replace(config, timezone="UTC"), whole)

    with production.connect(production.analytics) as conn:
        enriched = _enriched(conn)
    # Sunday 23:30 UTC is still Sunday, in the old week, when weeks are counted in UTC.
    assert enriched[1][:2] == (date(2024, 1, 1), date(2024, 1, 7))
    assert enriched[3][:2] == (date(2024, 1, 1), date(2024, 1, 7))
    with pytest.raises(ValueError, match="unknown time zone"):
        _enrich(replace(config, timezone="Europe/Pariss"), whole)


def test_enrich_only_touches_its_interval(production: Databases, config) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _load(config, (SUNDAY[0], MONDAY[1]))

    _enrich(config, MONDAY)

    with production.connect(production.analytics) as conn:
        enriched = _enriched(conn)
    assert all(enriched[event_id] == (None,) * 5 for event_id in SUNDAY_IDS)
    assert all(enriched[event_id][0] is not None for event_id in MONDAY_IDS)


# ---------------------------------------------------------------- operators, end to end


def test_operators_run_a_day_from_the_data_interval(production: Databases) -> None:
    """The three operators as the DAG runs them: the run's day from the context, its lookback day, summaries as XCom."""
    context = {
        "data_interval_start": pendulum.datetime(2024, 1, 8, tz="Europe/Paris"),
        "data_interval_end": pendulum.datetime(2024, 1, 9, tz="Europe/Paris"),
    }
    conn_ids = {"source_conn_id": PROD_CONN_ID, "target_conn_id": ANALYTICS_CONN_ID}

    copied = CopyProductionOperator(task_id="copy_production", **conn_ids).execute(context)
    loaded = LoadEventsOperator(task_id="load_events", **conn_ids).execute(context)
    enriched = EnrichEventsOperator(task_id="enrich_events", **conn_ids).execute(context)

    assert copied["tables"] == {"agence": 3, "conseiller": 3, "feature_flip": 1, "jeune": 4}
    # lookback_days is 1 in include/config/engagement.json: Sunday, then the run's Monday.
    assert list(loaded["days"]) == ["2024-01-07", "2024-01-08"]
    monday = loaded["days"]["2024-01-08"]
    assert monday["loaded"] == monday["source_count"] == len(MONDAY_IDS)
    assert monday["interval_start"] == "2024-01-07T23:00:00+00:00"
    assert loaded["days"]["2024-01-07"]["loaded"] == len(SUNDAY_IDS)
    assert loaded["events"] == len(MONDAY_IDS) + len(SUNDAY_IDS)
    assert enriched["days"]["2024-01-08"]["events"] == len(MONDAY_IDS)
    assert enriched["days"]["2024-01-08"]["without_geography"] == 4
    assert enriched["days"]["2024-01-08"]["days_changed"] == ["2024-01-08"]  # first enrichment: a change

    # Rendered templates arrive as strings; they win over the context. lookback_days=0: the day alone.
    rendered = LoadEventsOperator(
        task_id="load_sunday",
        interval_start="2024-01-07 00:00:00+01:00",
        interval_end="2024-01-08 00:00:00+01:00",
        lookback_days=0,
        **conn_ids,
    ).execute(context)
    assert list(rendered["days"]) == ["2024-01-07"] and rendered["events"] == len(SUNDAY_IDS)
    with pytest.raises(ValueError, match="no data interval"):
        LoadEventsOperator(task_id="no_interval", **conn_ids).execute({})


def test_generated_data_runs_through_the_elt(databases: Databases, config) -> None:
    from scripts.demo_data.cli import main as generate

    assert (
        generate(
            [
                "engagement",
                "--seed",
                "5",
                "--weeks",
                "12",
                "--users",
                "300",
                "--events",
                "20000",
                "--database-url",
                databases.url(databases.prod),
            ]
        )
        == 0
    )
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    first_monday = (datetime(2023, 12, 31, 23, tzinfo=UTC), datetime(2024, 1, 1, 23, tzinfo=UTC))

    loaded = _load(config, first_monday)
    enriched = _enrich(config, first_monday)

    assert loaded.loaded == loaded.source_count > 0
    assert enriched.events == loaded.loaded
    assert enriched.by_geography_status["resolved"] > 0.8 * enriched.events
    with databases.connect(databases.analytics) as conn:
        at_midnight = _rows(
            conn, "SELECT count(*) FROM evenement_engagement WHERE date_evenement = %s", (first_monday[0],)
        )
        assert at_midnight == [(3,)]
        assert _rows(conn, "SELECT DISTINCT week, day FROM evenement_engagement") == [
            (date(2024, 1, 1), date(2024, 1, 1))
        ]


# ---------------------------------------------------------------- review fixes: guard, copy scope, timeout, indexes


def test_weekly_views_refuse_the_source_as_target(production: Databases, monkeypatch) -> None:
    """ComputeWeeklyViewsOperator checks target != source too, not only the deny-list, before writing."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEST_ELT_PROD_ALIAS", production.url(production.prod).replace("127.0.0.1", "localhost")
    )
    operator = ComputeWeeklyViewsOperator(
        task_id="compute_week",
        week_start="2024-01-08",
        source_conn_id=PROD_CONN_ID,
        target_conn_id="test_elt_prod_alias",
    )
    with pytest.raises(UnsafeCopyTarget, match="the source itself"):
        operator.execute({})
    with production.connect(production.prod) as conn:
        assert not {"analytics_engagement", "analytics_fonctionnalites"} & _tables(conn)


def test_copy_production_copies_the_public_schema_only(production: Databases, config) -> None:
    with production.connect(production.prod) as conn:
        conn.execute("CREATE SCHEMA audit")
        conn.execute("CREATE TABLE audit.journal (id int)")
        conn.execute("CREATE TYPE public.niveau AS ENUM ('bas', 'haut')")
        conn.execute("ALTER TABLE agence ADD COLUMN niveau public.niveau DEFAULT 'bas'")
    with production.connect(production.analytics) as conn:
        ensure_event_table(conn, config)  # the analytics public schema is not empty: --clean must not drop it

    result = copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)

    assert result.tables == {"agence": 3, "conseiller": 3, "feature_flip": 1, "jeune": 4}
    with production.connect(production.analytics) as conn:
        schemas = {name for (name,) in _rows(conn, "SELECT nspname FROM pg_namespace")}
        assert "audit" not in schemas
        assert _rows(conn, "SELECT DISTINCT niveau::text FROM agence") == [("bas",)]  # the type came along
        assert "evenement_engagement" in _tables(conn)
    again = copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)  # --clean drops and restores the type
    assert again.tables == result.tables


def test_copy_production_times_out_and_releases_its_locks(production: Databases, config) -> None:
    """A copy past copy_timeout_seconds stops pg_dump and pg_restore: no session of theirs stays behind."""
    import time

    with production.connect(production.prod) as blocker:
        blocker.execute("LOCK TABLE agence IN ACCESS EXCLUSIVE MODE")  # pg_dump waits for this lock
        started = time.monotonic()
        with pytest.raises(DumpRestoreError, match="did not finish within 2s: both were stopped"):
            copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, replace(config, copy_timeout_seconds=2))
        assert time.monotonic() - started < 30
        blocker.rollback()

    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname IN (%s, %s) "
        "AND pid <> pg_backend_pid()"
    )
    with production.connect("postgres") as admin:
        for _ in range(50):
            left = _rows(admin, query, (postgres.APPLICATION_NAME, production.prod, production.analytics))[0][
                0
            ]
            if left == 0:
                break
            time.sleep(0.1)
    assert left == 0, "pg_dump or pg_restore still has a session open"
    with production.connect(production.analytics) as conn:
        assert not set(REFERENCE_TABLES) & _tables(conn)


def _indexes(conn: psycopg.Connection, table: str) -> set[str]:
    return {
        name for (name,) in _rows(conn, "SELECT indexname FROM pg_indexes WHERE tablename = %s", (table,))
    }


def test_each_event_table_gets_its_own_indexes(production: Databases, config) -> None:
    other = replace(config, event_table="evenement_engagement_essai")
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)  # the reference tables enrich_events joins
    with production.connect(production.analytics) as conn:
        for table_config in (config, other):
            ensure_event_table(conn, table_config)
            enrich_events(conn, *MONDAY, table_config)  # adds the enrichment columns and the day index
        assert _indexes(conn, "evenement_engagement") == {
            "evenement_engagement_pkey",
            "evenement_engagement_date_evenement_idx",
            "evenement_engagement_day_idx",
        }
        assert _indexes(conn, "evenement_engagement_essai") == {
            "evenement_engagement_essai_pkey",
            "evenement_engagement_essai_date_evenement_idx",
            "evenement_engagement_essai_day_idx",
        }


# ---------------------------------------------------------------- the days the clocks change

# Sunday 31 March 2024 (23 hours: 02:00 CET -> 03:00 CEST) and Sunday 27 October 2024 (25 hours:
# 03:00 CEST -> 02:00 CET) in Paris, with events at the edges of the local day and across the change.
DST_EVENTS = [
    (101, _utc(2024, 3, 30, 22, 59, 59)),  # Sat 30 Mar 23:59:59 CET: the day before
    (102, _utc(2024, 3, 30, 23, 0)),  # Sun 00:00 CET: first instant of the day
    (103, _utc(2024, 3, 31, 0, 59, 59)),  # Sun 01:59:59 CET, just before the change
    (104, _utc(2024, 3, 31, 1, 0)),  # Sun 03:00 CEST, just after
    (105, _utc(2024, 3, 31, 21, 59, 59)),  # Sun 23:59:59 CEST: last second of the day
    (106, _utc(2024, 3, 31, 22, 0)),  # Mon 1 Apr 00:00 CEST: the next day
    (107, _utc(2024, 3, 31, 22, 30)),  # Mon 00:30 CEST, still 31 March in UTC
    (201, _utc(2024, 10, 26, 21, 59, 59)),  # Sat 26 Oct 23:59:59 CEST: the day before
    (202, _utc(2024, 10, 26, 22, 0)),  # Sun 00:00 CEST
    (203, _utc(2024, 10, 27, 0, 30)),  # Sun 02:30 CEST, the first 02:30
    (204, _utc(2024, 10, 27, 1, 30)),  # Sun 02:30 CET, the second 02:30
    (205, _utc(2024, 10, 27, 22, 59, 59)),  # Sun 23:59:59 CET: last second of the day
    (206, _utc(2024, 10, 27, 23, 0)),  # Mon 28 Oct 00:00 CET: the next day
]


def _daily_interval(run_date: datetime) -> tuple[datetime, datetime]:
    """The data interval of the daily run for ``run_date``, from the DAG's timetable (as `dags test` infers it)."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    from analytics.engagement.config import ENGAGEMENT_TIMEZONE

    timetable = CronDataIntervalTimetable("0 0 * * *", timezone=ENGAGEMENT_TIMEZONE)
    interval = timetable.infer_manual_data_interval(run_after=pendulum.instance(run_date))
    return interval.start, interval.end


@pytest.mark.parametrize(
    ("run_date", "day", "hours", "expected_ids"),
    [
        (datetime(2024, 4, 1, tzinfo=UTC), date(2024, 3, 31), 23, [102, 103, 104, 105]),
        (datetime(2024, 10, 28, tzinfo=UTC), date(2024, 10, 27), 25, [202, 203, 204, 205]),
    ],
    ids=["spring-23h", "autumn-25h"],
)
def test_a_dst_day_loads_exactly_the_local_days_events(
    production: Databases, config, run_date: datetime, day: date, hours: int, expected_ids: list[int]
) -> None:
    row = EVENTS[0]
    with production.connect(production.prod) as conn:
        postgres.copy_rows_to_table(
            conn,
            "evenement_engagement",
            EVENT_COLUMNS,
            [(id_, moment, *row[2:]) for id_, moment in DST_EVENTS],
        )
    interval = _daily_interval(run_date)
    assert interval[1] - interval[0] == pendulum.duration(hours=hours)
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)

    loaded = _load(config, interval)
    _enrich(config, interval)

    local_day = "(date_evenement AT TIME ZONE 'Europe/Paris')::date = %s"
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        of_the_day = _rows(
            source,
            f"SELECT {', '.join(EVENT_COLUMNS)} FROM evenement_engagement WHERE {local_day} ORDER BY id",
            (day,),
        )
        assert [event[0] for event in of_the_day] == expected_ids
        assert _events(target) == of_the_day
        assert _rows(target, "SELECT DISTINCT day FROM evenement_engagement") == [(day,)]
    assert loaded.loaded == loaded.source_count == len(expected_ids)


# ---------------------------------------------------------------- the load log and whole weeks

WEEK_OF_JAN_8 = date(2024, 1, 8)


def _paris_days(first: date, end: date) -> tuple[datetime, datetime]:
    """[first 00:00, end 00:00) in Europe/Paris, as the daily runs' intervals are."""
    return (
        pendulum.datetime(first.year, first.month, first.day, tz="Europe/Paris"),
        pendulum.datetime(end.year, end.month, end.day, tz="Europe/Paris"),
    )


def _not_ready(week: date) -> list[date]:
    with postgres.connect(ANALYTICS_CONN_ID) as target:
        return days_not_ready(target, week)


def _log(conn: psycopg.Connection) -> dict[date, tuple[int, bool]]:
    rows = _rows(conn, "SELECT day, events, enriched_at IS NOT NULL FROM engagement_loaded_days ORDER BY day")
    return {day: (events, enriched) for day, events, enriched in rows}


def test_a_week_is_ready_only_when_its_seven_days_are_loaded_and_enriched(
    production: Databases, config
) -> None:
    assert _not_ready(WEEK_OF_JAN_8) == [date(2024, 1, 8 + offset) for offset in range(7)]  # no log yet
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)

    monday_to_friday = _paris_days(date(2024, 1, 8), date(2024, 1, 13))
    loaded = _load(config, monday_to_friday)
    assert loaded.days_recorded == [f"2024-01-{day:02d}" for day in range(8, 13)]
    assert _not_ready(WEEK_OF_JAN_8) == [date(2024, 1, day) for day in range(8, 15)]  # loaded, not enriched

    enriched = _enrich(config, monday_to_friday)
    assert enriched.days_recorded == loaded.days_recorded
    assert _not_ready(WEEK_OF_JAN_8) == [date(2024, 1, 13), date(2024, 1, 14)]

    weekend = _paris_days(date(2024, 1, 13), date(2024, 1, 15))
    _load(config, weekend)
    _enrich(config, weekend)
    assert _not_ready(WEEK_OF_JAN_8) == []
    with production.connect(production.analytics) as target:
        log = _log(target)
        loaded_events = len(_events(target))
    assert list(log) == [date(2024, 1, day) for day in range(8, 15)]  # days with no event too
    assert log[date(2024, 1, 8)] == (len(MONDAY_IDS), True)
    assert sum(events for events, _ in log.values()) == loaded_events

    # Reloading a day takes it out of the ready days until it is enriched again.
    _load(config, MONDAY)
    assert _not_ready(WEEK_OF_JAN_8) == [date(2024, 1, 8)]
    _enrich(config, MONDAY)
    assert _not_ready(WEEK_OF_JAN_8) == []


def test_an_interval_that_is_not_whole_days_records_no_partial_day(production: Databases, config) -> None:
    half_monday = (MONDAY[0], datetime(2024, 1, 8, 11, tzinfo=UTC))
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    loaded = _load(config, half_monday)
    _enrich(config, half_monday)
    assert loaded.loaded > 0 and loaded.days_recorded == []
    assert date(2024, 1, 8) in _not_ready(WEEK_OF_JAN_8)


def test_the_sensor_waits_for_missing_days_then_lets_the_week_through(
    production: Databases, config, capsys
) -> None:
    """The weekly views' sensor, in a run that asks to wait (the daily DAG's Monday trigger does)."""
    waiting = {"params": {"wait_for_loaded_days": True}}
    sensor = WeeksLoadedSensor(
        task_id="wait_for_week_loaded", weeks=["2024-01-08"], target_conn_id=ANALYTICS_CONN_ID
    )
    capsys.readouterr()
    assert sensor.poke(waiting) is False
    assert "none of its days is loaded yet" in capsys.readouterr().out  # the ELT's first Monday: a hint
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _load(config, _paris_days(date(2024, 1, 8), date(2024, 1, 14)))
    _enrich(config, _paris_days(date(2024, 1, 8), date(2024, 1, 14)))

    capsys.readouterr()
    assert sensor.poke(waiting) is False
    out = capsys.readouterr().out  # Airflow's task logger writes to stdout outside a task run
    assert "week 2024-01-08: waiting: 1 day(s) not loaded and enriched by the ELT: 2024-01-14" in out
    assert "none of its days is loaded yet" not in out
    # A run that does not ask to wait (a backfill, a manual or stale-weeks run) goes on at once.
    assert sensor.poke({"params": {"wait_for_loaded_days": False}}) is True

    _load(config, _paris_days(date(2024, 1, 14), date(2024, 1, 15)))
    _enrich(config, _paris_days(date(2024, 1, 14), date(2024, 1, 15)))
    assert sensor.poke(waiting) is True
    with pytest.raises(ValueError, match="weeks start on Monday"):
        WeeksLoadedSensor(
            task_id="not_a_monday", weeks=["2024-01-09"], target_conn_id=ANALYTICS_CONN_ID
        ).poke(waiting)


def test_weekly_views_of_an_incomplete_week_are_computed_with_a_warning(
    production: Databases, config, capsys
) -> None:
    """A manual recompute is not blocked by the load log (history may predate it), but says what is missing."""
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _load(config, MONDAY)
    _enrich(config, MONDAY)
    capsys.readouterr()

    result = ComputeWeeklyViewsOperator(
        task_id="compute_week",
        week_start="2024-01-08",
        source_conn_id=PROD_CONN_ID,
        target_conn_id=ANALYTICS_CONN_ID,
    ).execute({})

    assert result["week"] == "2024-01-08" and result["rows"]["analytics_engagement_national"] > 0
    assert (
        "week 2024-01-08: 6 day(s) not loaded and enriched by the ELT: "
        "2024-01-09, 2024-01-10, 2024-01-11, 2024-01-12, 2024-01-13, 2024-01-14; computed from what analytics holds"
    ) in capsys.readouterr().out


# ---------------------------------------------------------------- late rows, moved events, reruns


def _daily_run(day: date) -> None:
    """What the daily run of ``day`` does to the events: load_events and enrich_events, as the DAG runs them."""
    start = pendulum.datetime(day.year, day.month, day.day, tz="Europe/Paris")
    context = {"data_interval_start": start, "data_interval_end": start.add(days=1)}
    conn_ids = {"source_conn_id": PROD_CONN_ID, "target_conn_id": ANALYTICS_CONN_ID}
    LoadEventsOperator(task_id="load_events", **conn_ids).execute(context)
    EnrichEventsOperator(task_id="enrich_events", **conn_ids).execute(context)


def _day_events(conn: psycopg.Connection, day: date) -> list[tuple]:
    return _events(conn, _paris_days(day, date.fromordinal(day.toordinal() + 1)))


def _load_log(conn: psycopg.Connection) -> dict[date, tuple]:
    """day -> (events, fingerprint, changed_at, enriched)"""
    rows = _rows(
        conn,
        "SELECT day, events, fingerprint, changed_at, enriched_at IS NOT NULL FROM engagement_loaded_days ORDER BY day",
    )
    return {day: tuple(rest) for day, *rest in rows}


SATURDAY, SUNDAY_DAY, MONDAY_DAY, TUESDAY = (date(2024, 1, day) for day in (6, 7, 8, 9))


def test_a_late_row_is_loaded_by_the_next_run(production: Databases, config) -> None:
    """An event of Monday that reaches production after Monday's run is loaded by Tuesday's (lookback_days 1)."""
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(MONDAY_DAY)
    with production.connect(production.prod) as conn:
        conn.execute(
            "INSERT INTO evenement_engagement VALUES "
            "(12, '2024-01-08 15:00+00', 'Action', 'Création', 'Action', 'J1', 'JEUNE', 'MILO', 'ACTION_CREEE')"
        )

    _daily_run(TUESDAY)

    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        monday = _day_events(target, MONDAY_DAY)
        assert monday == _day_events(source, MONDAY_DAY)
        assert [event[0] for event in monday] == sorted([*MONDAY_IDS, 12])
        assert _rows(target, "SELECT day FROM evenement_engagement WHERE id = 12") == [(MONDAY_DAY,)]
        assert _load_log(target)[MONDAY_DAY][0] == len(MONDAY_IDS) + 1


def test_an_event_moved_to_another_day_is_taken_over_and_both_days_count_right(
    production: Databases, config
) -> None:
    """Event 10 (Sunday) is moved to Tuesday in production; Tuesday's run reloads Monday and Tuesday, not Sunday."""
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(SUNDAY_DAY)
    _daily_run(MONDAY_DAY)
    with production.connect(production.analytics) as target:
        before = _load_log(target)
    assert before[SUNDAY_DAY][0] == len(SUNDAY_IDS) == 2
    with production.connect(production.prod) as conn:
        conn.execute("UPDATE evenement_engagement SET date_evenement = '2024-01-09 10:00+00' WHERE id = 10")

    _daily_run(TUESDAY)  # before the fix: UniqueViolation on evenement_engagement_pkey

    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        for day in (SUNDAY_DAY, MONDAY_DAY, TUESDAY):
            assert _day_events(target, day) == _day_events(source, day), day
        assert _rows(target, "SELECT day FROM evenement_engagement WHERE id = 10") == [(TUESDAY,)]
        after = _load_log(target)
    assert after[SUNDAY_DAY][0] == 1  # event 2 only: the day it left is counted again
    assert after[TUESDAY][0] == 2  # event 9 (Tuesday 00:00 Paris) and event 10
    assert after[SUNDAY_DAY][1] != before[SUNDAY_DAY][1]  # its fingerprint changed ...
    assert after[SUNDAY_DAY][2] > before[SUNDAY_DAY][2]  # ... so its content counts as changed
    assert after[SUNDAY_DAY][3] is True  # still enriched (its remaining rows were not touched)
    assert after[MONDAY_DAY][1:3] == before[MONDAY_DAY][1:3]  # reloaded identical: no change


def test_every_step_twice_leaves_the_same_state(production: Databases, config) -> None:
    """copy, load, enrich of a run, then again: the same rows, the same load log (changed_at included)."""

    def state() -> tuple:
        with production.connect(production.analytics) as target:
            log = {
                day: (events, fingerprint, changed_at, enriched)
                for day, (events, fingerprint, changed_at, enriched) in _load_log(target).items()
            }
            return _rows(target, "SELECT * FROM evenement_engagement ORDER BY id"), log

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(MONDAY_DAY)
    first = state()
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(MONDAY_DAY)
    assert state() == first
    assert set(first[1]) == {SUNDAY_DAY, MONDAY_DAY}


def test_a_rerun_after_a_crash_halfway_gives_the_state_of_a_clean_run(production: Databases, config) -> None:
    """Monday's run loads Sunday, then fails on Monday; Sunday stays loaded, Monday as it was; the rerun completes."""
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    with production.connect(production.analytics) as conn:
        ensure_event_table(conn, config)
        conn.execute(
            """
            CREATE FUNCTION crash_on_event_11() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN IF NEW.id = 11 THEN RAISE EXCEPTION 'crash halfway'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER crash_on_event_11 BEFORE INSERT ON evenement_engagement
                FOR EACH ROW EXECUTE FUNCTION crash_on_event_11();
            """
        )
    with pytest.raises(psycopg.errors.RaiseException, match="crash halfway"):
        _daily_run(MONDAY_DAY)
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        assert _day_events(target, SUNDAY_DAY) == _day_events(
            source, SUNDAY_DAY
        )  # committed before the crash
        assert _day_events(target, MONDAY_DAY) == []  # rolled back whole
        assert set(_load_log(target)) == {SUNDAY_DAY}
        target.execute("DROP TRIGGER crash_on_event_11 ON evenement_engagement")

    _daily_run(MONDAY_DAY)

    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        for day in (SUNDAY_DAY, MONDAY_DAY):
            assert _day_events(target, day) == _day_events(source, day)
        log = _load_log(target)
    assert {day: (events, enriched) for day, (events, _, _, enriched) in log.items()} == {
        SUNDAY_DAY: (len(SUNDAY_IDS), True),
        MONDAY_DAY: (len(MONDAY_IDS), True),
    }


# ---------------------------------------------------------------- a recompute overlapping copy_production


def test_a_recompute_overlapping_copy_production_reads_the_restored_copy(
    production: Databases, config
) -> None:
    """The real pg_restore, held up halfway (a reader holds `jeune`), and a week computed meanwhile."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from analytics.engagement.weekly_views import recompute_week

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(MONDAY_DAY)
    week = date(2024, 1, 8)
    # J1 (current adviser C1) and J3 (initial adviser C1) have Monday events; C1 has DEMARCHES_IA.
    assert recompute_week(ANALYTICS_CONN_ID, week, config).rows["analytics_fonctionnalites_demarches_ia"] == 3
    with production.connect(production.prod) as conn:  # the next copy also flags C2, J4's adviser (event 11)
        conn.execute(
            "INSERT INTO feature_flip (feature_tag, email_conseiller) VALUES ('DEMARCHES_IA', 'c2@example.org')"
        )

    # pg_restore (application analytics-dags) waiting for a lock on the analytics database.
    restore_waits = (
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = %s AND application_name = %s"
        " AND wait_event_type = 'Lock'"
    )
    with (
        production.connect(production.analytics) as reader,
        production.connect("postgres", autocommit=True) as admin,  # fresh activity figures at each query
    ):
        reader.execute("SELECT count(*) FROM jeune")  # holds ACCESS SHARE on jeune until it ends
        with ThreadPoolExecutor(2) as pool:
            copying = pool.submit(copy_production, PROD_CONN_ID, ANALYTICS_CONN_ID, config)
            try:
                deadline = time.monotonic() + 30
                while not admin.execute(
                    restore_waits, (production.analytics, postgres.APPLICATION_NAME)
                ).fetchone()[0]:
                    assert time.monotonic() < deadline and not copying.done(), (
                        "pg_restore never waited for jeune"
                    )
                    time.sleep(0.05)
                computing = pool.submit(recompute_week, ANALYTICS_CONN_ID, week, config)
                time.sleep(1.0)  # the week's transaction has begun while the restore is halfway
            finally:
                reader.rollback()  # the restore goes on (also when the test fails above)
            copied = copying.result(timeout=60)
            computed = computing.result(timeout=60)
    assert copied.tables["feature_flip"] == 2
    # The restored flags: 3 rows for J1 and J3 (MILO) + 3 for J4's event 11 (POLE_EMPLOI). Not 0.
    assert computed.rows["analytics_fonctionnalites_demarches_ia"] == 6
    with production.connect(production.analytics) as conn:
        assert _rows(
            conn,
            "SELECT structure, grain, nombre_evenements FROM analytics_fonctionnalites_demarches_ia"
            " WHERE week = %s ORDER BY 1, 2",
            (week,),
        ) == [
            ("MILO", "categorie", 2),
            ("MILO", "categorie_action", 2),
            ("MILO", "categorie_action_nom", 2),
            ("POLE_EMPLOI", "categorie", 1),
            ("POLE_EMPLOI", "categorie_action", 1),
            ("POLE_EMPLOI", "categorie_action_nom", 1),
        ]


# ---------------------------------------------------------------- stale weeks


def _stale(config: EngagementConfig) -> list[date]:
    from analytics.engagement.stale_weeks import find_stale_weeks

    return [week.week for week in find_stale_weeks(ANALYTICS_CONN_ID, config).stale]


def _recompute(config: EngagementConfig, *weeks: date) -> None:
    from analytics.engagement.weekly_views import recompute_week

    for week in weeks:
        recompute_week(ANALYTICS_CONN_ID, week, config)


def _add_event(production: Databases, event_id: int, moment: str, user: str = "J1") -> None:
    with production.connect(production.prod) as conn:
        conn.execute(
            "INSERT INTO evenement_engagement VALUES (%s, %s, 'Action', 'Création', 'Action', %s, 'JEUNE', 'MILO', NULL)",
            (event_id, moment, user),
        )


def _reload(config: EngagementConfig, day: date) -> None:
    interval = _paris_days(day, date.fromordinal(day.toordinal() + 1))
    _load(config, interval)
    _enrich(config, interval)


WEEK_OF_JAN_1 = date(2024, 1, 1)


def test_a_reloaded_day_makes_the_computed_weeks_that_read_it_stale(production: Databases, config) -> None:
    """A late row on Sunday 7 January: the computed weeks whose 2-month window holds that day are stale, others not."""
    from analytics.engagement.stale_weeks import find_stale_weeks

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(SUNDAY_DAY)
    _daily_run(MONDAY_DAY)
    # Week of 1 Jan reads Sunday 7 as its own day; week of 8 Jan and of 26 Feb in their 2 months
    # ([2024-01-04, 2024-03-04) for 26 Feb); week of 4 March reads [2024-01-11, 2024-03-11): not Sunday 7.
    weeks = (WEEK_OF_JAN_1, WEEK_OF_JAN_8, date(2024, 2, 26), date(2024, 3, 4))
    _recompute(config, *weeks)
    assert _stale(config) == []

    _daily_run(MONDAY_DAY)  # a rerun: Sunday and Monday reloaded identically
    assert _stale(config) == []

    _add_event(production, 13, "2024-01-07 10:00+00")
    _daily_run(MONDAY_DAY)  # the rerun reloads Sunday, now with the late row

    found = find_stale_weeks(ANALYTICS_CONN_ID, config)
    assert [week.week for week in found.stale] == [WEEK_OF_JAN_1, WEEK_OF_JAN_8, date(2024, 2, 26)]
    assert all(week.changed_days == (SUNDAY_DAY,) for week in found.stale)
    assert found.to_recompute == [WEEK_OF_JAN_1, WEEK_OF_JAN_8, date(2024, 2, 26)]
    assert "stale week 2024-01-01 (computed " in "\n".join(found.log_lines())
    with production.connect(production.analytics) as conn:  # "stale" is a query
        assert _rows(conn, "SELECT week FROM engagement_stale_weeks ORDER BY week") == [
            (WEEK_OF_JAN_1,),
            (WEEK_OF_JAN_8,),
            (date(2024, 2, 26),),
        ]
        events_before = _rows(
            conn,
            "SELECT nombre_evenements FROM analytics_fonctionnalites WHERE week = %s AND grain = 'categorie'"
            " AND type_utilisateur = 'JEUNE' AND categorie = 'Action'",
            (WEEK_OF_JAN_1,),
        )

    _recompute(config, *found.to_recompute)

    assert _stale(config) == []
    with production.connect(production.analytics) as conn:
        events_after = _rows(
            conn,
            "SELECT nombre_evenements FROM analytics_fonctionnalites WHERE week = %s AND grain = 'categorie'"
            " AND type_utilisateur = 'JEUNE' AND categorie = 'Action'",
            (WEEK_OF_JAN_1,),
        )
    assert events_before == [] and events_after == [(1,)]  # the late row (an Action) is in its week now


@pytest.mark.parametrize(
    ("changed_day", "stale"),
    [
        (date(2024, 1, 3), []),  # the day before the window of the week of 26 Feb, [2024-01-04, 2024-03-04)
        (date(2024, 1, 4), [date(2024, 2, 26)]),  # its first day
        (date(2024, 3, 3), [date(2024, 2, 26)]),  # its last day (Sunday)
        (date(2024, 3, 4), []),  # the next Monday: the next week's
    ],
    ids=["day-before-window", "first-day", "last-day", "next-monday"],
)
def test_the_stale_window_is_the_views_2_month_window(
    production: Databases, config, changed_day: date, stale: list[date]
) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    for day in (date(2024, 1, 3), date(2024, 1, 4), date(2024, 3, 3), date(2024, 3, 4)):
        _reload(config, day)  # days with no event, in the load log
    _recompute(config, date(2024, 2, 26))
    assert _stale(config) == []

    _add_event(production, 20, f"{changed_day.isoformat()} 12:00+01")
    _reload(config, changed_day)

    assert _stale(config) == stale


# ---------------------------------------------------------------- the edges of a day


def test_reloading_a_day_leaves_the_next_days_midnight_events_alone(production: Databases, config) -> None:
    """Event 3 is at Monday 00:00 Paris, the end of Sunday's interval: Sunday's delete must not take it."""
    _load(config, SUNDAY)
    _load(config, MONDAY)

    again = _load(config, SUNDAY)

    assert again.deleted == len(SUNDAY_IDS)
    with production.connect(production.prod) as source, production.connect(production.analytics) as target:
        assert _events(target) == _events(source, (SUNDAY[0], MONDAY[1]))
        assert 3 in [event[0] for event in _events(target, MONDAY)]


def test_enriching_a_day_leaves_the_next_days_midnight_events_alone(production: Databases, config) -> None:
    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _load(config, (SUNDAY[0], MONDAY[1]))

    sunday = _enrich(config, SUNDAY)

    assert sunday.events == len(SUNDAY_IDS)
    with production.connect(production.analytics) as conn:
        enriched = _enriched(conn)
    assert enriched[3] == (None,) * 5  # Monday 00:00 Paris: not Sunday's
    assert enriched[2][:2] == (date(2024, 1, 1), date(2024, 1, 7))  # Sunday 23:59:59 Paris: Sunday's


def test_the_load_log_counts_a_day_at_its_load_midnight_event_included(production: Databases, config) -> None:
    """Before enrichment: event 3, at Monday 00:00 Paris, is Monday's; event 9, Tuesday 00:00, is not."""
    _load(config, MONDAY)
    with production.connect(production.analytics) as target:
        assert _log(target) == {MONDAY_DAY: (len(MONDAY_IDS), False)}


def test_one_daily_run_recomputes_at_most_max_weeks_per_run_stale_weeks(
    production: Databases, config
) -> None:
    """The oldest first; the others stay stale, for the next daily run."""
    from analytics.engagement.stale_weeks import find_stale_weeks, stale_weeks_run_id

    copy_production(PROD_CONN_ID, ANALYTICS_CONN_ID, config)
    _daily_run(MONDAY_DAY)
    weeks = (WEEK_OF_JAN_1, WEEK_OF_JAN_8, date(2024, 1, 15))
    _recompute(config, *weeks)
    _add_event(production, 14, "2024-01-07 09:00+00")
    _daily_run(MONDAY_DAY)

    found = find_stale_weeks(
        ANALYTICS_CONN_ID, replace(config, max_weeks_per_run=2, history_weeks_for_last_year=2)
    )

    assert [week.week for week in found.stale] == list(weeks)
    assert found.to_recompute == [WEEK_OF_JAN_1, WEEK_OF_JAN_8]
    assert "1 more (over max_weeks_per_run) are left for the next daily run" in found.log_lines()[-1]
    run_id = stale_weeks_run_id(pendulum.datetime(2024, 1, 8, tz="Europe/Paris"), found.to_recompute, config)
    assert run_id.startswith("stale_weeks__2024-01-08__2_weeks_")
    assert run_id == stale_weeks_run_id(
        MONDAY[0], found.to_recompute, config
    )  # the same run, the same weeks: same id
    assert run_id != stale_weeks_run_id(MONDAY[0], weeks, config)
