"""The guard that keeps the ELT from writing to production."""

from __future__ import annotations

import pytest

from analytics.engagement.guard import (
    DatabaseTarget,
    UnsafeCopyTarget,
    check_copy_target,
    check_tables_not_copied,
    check_writable_target,
)

PRODUCTION_NAMES = ("prod", "production", "pass_emploi_prod")
SOURCE = DatabaseTarget("127.0.0.1", 5432, "prod")


def test_a_separate_analytics_database_is_allowed() -> None:
    check_copy_target(SOURCE, DatabaseTarget("127.0.0.1", 5432, "analytics"), PRODUCTION_NAMES)
    check_copy_target(
        DatabaseTarget("db.prod.internal", 5432, "app"),
        DatabaseTarget("db.analytics.internal", 5432, "app"),
        PRODUCTION_NAMES,
    )


@pytest.mark.parametrize(
    "target",
    [
        DatabaseTarget("127.0.0.1", 5432, "prod"),
        DatabaseTarget("localhost", 5432, "prod"),
        DatabaseTarget("LOCALHOST", None, "prod"),
        DatabaseTarget(None, None, "prod"),
        DatabaseTarget("/var/run/postgresql", 5432, "prod"),
        DatabaseTarget("::1", 5432, "PROD"),
    ],
)
def test_the_source_itself_is_refused(target: DatabaseTarget) -> None:
    with pytest.raises(UnsafeCopyTarget, match="the source itself"):
        check_copy_target(SOURCE, target, ())


def test_same_database_name_on_another_port_or_host_is_not_the_source() -> None:
    source = DatabaseTarget("127.0.0.1", 54330, "app_data")
    check_copy_target(source, DatabaseTarget("127.0.0.1", 54331, "app_data"), PRODUCTION_NAMES)
    check_copy_target(source, DatabaseTarget("10.0.0.5", 54330, "app_data"), PRODUCTION_NAMES)


@pytest.mark.parametrize("database", ["prod", "Production", "PASS_EMPLOI_PROD"])
def test_deny_listed_names_are_refused_case_insensitively(database: str) -> None:
    target = DatabaseTarget("analytics.internal", 5432, database)
    with pytest.raises(UnsafeCopyTarget, match="deny-list"):
        check_copy_target(DatabaseTarget("db.internal", 5432, "source"), target, PRODUCTION_NAMES)
    with pytest.raises(UnsafeCopyTarget, match="deny-list"):
        check_writable_target(target, PRODUCTION_NAMES)


def test_unsafe_copy_target_is_a_value_error_with_a_clear_message() -> None:
    with pytest.raises(ValueError) as raised:
        check_copy_target(SOURCE, DatabaseTarget("localhost", None, "prod"), PRODUCTION_NAMES)
    assert "localhost:5432/prod" in str(raised.value)


def test_default_port_is_5432() -> None:
    assert DatabaseTarget("db", None, "x").normalised() == DatabaseTarget("db", 5432, "x").normalised()
    assert str(DatabaseTarget(None, None, "x")) == "localhost:5432/x"


def test_the_event_table_must_not_be_copied() -> None:
    check_tables_not_copied(["evenement_engagement", "log_job"], "evenement_engagement")
    check_tables_not_copied(["public.evenement_engagement"], "evenement_engagement")
    with pytest.raises(ValueError, match="must include the event table"):
        check_tables_not_copied(["log_job", "log_api_partenaire"], "evenement_engagement")
