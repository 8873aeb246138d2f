"""The BI configuration file, its thresholds, and the gate's reading of the bi_aggregate Variable (pure)."""

from __future__ import annotations

import json

import pytest

from analytics.bi.config import BI_TIMEZONE, BiConfig, RiskThresholds, gate_decision, load_bi_config
from analytics.core.config import ConfigError


def test_the_shipped_file():
    config = load_bi_config()
    assert (config.source_connection_id, config.mongo_connection_id, config.database) == (
        "postgres_app", "mongo_default", "bi",
    )  # fmt: skip
    assert config.timezone == BI_TIMEZONE == "UTC"
    assert (config.forms_per_chunk, config.top_users_per_institution) == (10, 10)
    assert (config.top_users_window_days, config.institution_recent_days) == (90, 30)
    assert config.risk_thresholds == RiskThresholds(12, 60, 0.1)
    assert config.risk_thresholds.sql_parameters() == {
        "minimum_password_length": 12,
        "maximum_session_timeout_minutes": 60,
        "maximum_global_user_share": 0.1,
    }


def _write(tmp_path, **changes):
    raw = json.loads(load_bi_config.__defaults__[0].read_text())
    raw.update(changes)
    path = tmp_path / "bi.json"
    path.write_text(json.dumps(raw))
    return path


def test_errors_name_the_file_and_the_key(tmp_path):
    with pytest.raises(ConfigError, match="key 'timezone'"):
        load_bi_config(_write(tmp_path, timezone="Europe/Paris"))
    with pytest.raises(ConfigError, match="key 'forms_per_chunk'"):
        load_bi_config(_write(tmp_path, forms_per_chunk="10"))
    with pytest.raises(ConfigError, match="forms_per_chunk must be at least 1"):
        load_bi_config(_write(tmp_path, forms_per_chunk=0))
    with pytest.raises(ConfigError, match="maximum_global_user_share"):
        load_bi_config(_write(tmp_path, risk_thresholds={"maximum_global_user_share": 1.5}))
    with pytest.raises(ConfigError, match="not a valid MongoDB database name"):
        load_bi_config(_write(tmp_path, database="b.i"))


def test_thresholds_default_when_left_out(tmp_path):
    assert load_bi_config(
        _write(tmp_path, risk_thresholds={"minimum_password_length": 14})
    ).risk_thresholds == (RiskThresholds(14, 60, 0.1))
    assert BiConfig().risk_thresholds == RiskThresholds()


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "1", "yes", "on", " true "])
def test_the_gate_opens_as_the_original_environment_variable_did(value):
    is_open, reason = gate_decision(value)
    assert is_open and "aggregating" in reason


@pytest.mark.parametrize("value", [None, "", "false", "0", "no", "off", "tru"])
def test_the_gate_stays_shut_otherwise_and_says_why(value):
    is_open, reason = gate_decision(value)
    assert not is_open
    assert "bi_aggregate" in reason and "AIRFLOW_VAR_BI_AGGREGATE=true" in reason
