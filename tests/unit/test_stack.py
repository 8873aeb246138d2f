"""The local stack's configuration: profiles never share ports or data, and every connection is defined."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from analytics.connections import ALL_CONNECTION_IDS

STACK_PATH = Path(__file__).resolve().parents[2] / "scripts" / "stack.py"


def _stack_module():
    spec = importlib.util.spec_from_file_location("stack_under_test", STACK_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_demo_and_test_profiles_use_different_ports_and_folders(monkeypatch):
    for profile in ("demo", "test"):
        for service in ("pg", "mongo", "s3", "smtp"):
            monkeypatch.delenv(
                f"ANALYTICS_{'' if profile == 'demo' else 'TEST_'}{service.upper()}_PORT", raising=False
            )
    stack = _stack_module()
    demo, test = stack.stack_for("demo"), stack.stack_for("test")
    assert {demo.pg_port, demo.mongo_port, demo.s3_port, demo.smtp_port}.isdisjoint(
        {test.pg_port, test.mongo_port, test.s3_port, test.smtp_port}
    )
    assert demo.root != test.root and demo.airflow_home != test.airflow_home


def test_ports_are_overridden_per_profile(monkeypatch):
    monkeypatch.setenv("ANALYTICS_TEST_PG_PORT", "6543")
    stack = _stack_module()
    assert stack.stack_for("test").pg_port == 6543
    assert stack.stack_for("demo").pg_port == 54320


def test_profiles_that_would_share_a_port_are_refused(monkeypatch):
    monkeypatch.setenv("ANALYTICS_TEST_MONGO_PORT", "27017")
    stack = _stack_module()
    try:
        stack.stack_for("test")
    except SystemExit as refusal:
        assert "share port(s) [27017]" in str(refusal)
    else:
        raise AssertionError("a test stack on the demo's MongoDB port must be refused")


def test_a_reused_pid_is_not_ours(tmp_path):
    stack = _stack_module()
    pid_file = tmp_path / "s3.pid"
    pid_file.write_text(f"{os.getpid()}\nmoto_server\n")  # this process is alive but is not moto
    assert stack.read_pid(pid_file) is None
    pid_file.write_text(f"{os.getpid()}\npytest\n")
    assert stack.read_pid(pid_file) == os.getpid()


def test_environment_defines_every_connection_and_no_examples():
    stack = _stack_module()
    environment = stack.environment(stack.stack_for("test"))
    for conn_id in ALL_CONNECTION_IDS:
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in environment
    assert environment["AIRFLOW_CONN_MONGO_DEFAULT"].startswith("mongo://")
    assert '"endpoint_url"' in environment["AIRFLOW_CONN_AWS_DEFAULT"]
    assert environment["AIRFLOW_CONN_SMTP_DEFAULT"].startswith("smtp://127.0.0.1:")
    assert environment["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert environment["AIRFLOW__CORE__DAGS_FOLDER"].endswith("/dags")


def test_airflow_metadata_is_in_each_profiles_own_postgres(monkeypatch):
    for variable in ("ANALYTICS_PG_PORT", "ANALYTICS_TEST_PG_PORT"):
        monkeypatch.delenv(variable, raising=False)
    stack = _stack_module()
    urls = {
        profile: stack.environment(stack.stack_for(profile))["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        for profile in ("demo", "test")
    }
    # not SQLite: a scheduler and an api-server on one SQLite file refuse to create backfills
    assert urls["demo"] == "postgresql+psycopg2://postgres@127.0.0.1:54320/airflow"
    assert urls["test"] == "postgresql+psycopg2://postgres@127.0.0.1:54330/airflow"
    assert stack.METADATA_DATABASE not in stack.DATABASES  # the ELT's databases stay apart
