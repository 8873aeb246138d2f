"""The pure parts of the alerts: doc sections, messages, which notifier delivers, deadline rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.alerts import (
    DEADLINES,
    SMTP_NOTIFIER,
    DeliverySettings,
    deadline_alert,
    deadline_alert_message,
    deadline_applies,
    deadline_rule,
    delivery_settings,
    doc_sections,
    failure_alert,
    notifier_class,
    notifier_for,
    when_it_fails,
)

DOC = """
# Probe

## What it does

Loads things.

## Params

- `x`: a number.

## When it fails

A failure means nothing was loaded. What to do:

line three
line four
line five, left out

## Owner

data-engineering.
"""


def test_doc_sections_maps_each_heading_to_its_body_in_order():
    sections = doc_sections(DOC)
    assert list(sections) == ["What it does", "Params", "When it fails", "Owner"]
    assert sections["Params"] == "- `x`: a number."
    assert sections["Owner"] == "data-engineering."


def test_when_it_fails_is_the_first_four_non_blank_lines_of_its_section():
    assert when_it_fails(DOC) == (
        "A failure means nothing was loaded. What to do:\nline three\nline four\nline five, left out"
    )
    assert when_it_fails(DOC, lines=2) == "A failure means nothing was loaded. What to do:\nline three"
    assert when_it_fails("# No sections\n\ntext") == ""
    assert when_it_fails(None) == ""


def test_failure_alert_names_dag_task_run_try_log_and_what_to_do():
    alert = failure_alert(
        dag_id="probe",
        task_id="load",
        map_index=3,
        run_id="scheduled__2024-01-01",
        try_number=3,
        log_url="http://airflow/dags/probe/runs/x/tasks/load/mapped/3?try_number=3",
        when_it_fails_lines=when_it_fails(DOC, 1),
        error="boom",
    )
    assert alert.subject == "[airflow] probe.load[3] failed (run scheduled__2024-01-01, try 3)"
    assert alert.body.splitlines() == [
        "DAG: probe",
        "Task: load[3]",
        "Run: scheduled__2024-01-01",
        "Try: 3",
        "Log: http://airflow/dags/probe/runs/x/tasks/load/mapped/3?try_number=3",
        "Error: boom",
        "",
        "When it fails:",
        "A failure means nothing was loaded. What to do:",
    ]


def test_an_unmapped_task_has_no_index_and_a_doc_without_the_section_says_so():
    alert = failure_alert(
        dag_id="d", task_id="t", map_index=-1, run_id="r", try_number=1, log_url="u", when_it_fails_lines=""
    )
    assert "Task: t\n" in alert.body and "Error" not in alert.body
    assert alert.body.endswith("(the DAG's docs say nothing)")


def test_deadline_message_names_the_deadline_and_the_run():
    alert = deadline_alert_message(
        dag_id="d",
        run_id="r",
        deadline_time="2024-01-02T05:00:00+00:00",
        deadline="06:00 Paris",
        run_url="http://a/dags/d/runs/r",
        when_it_fails_lines="A failure means late.",
    )
    assert alert.subject == "[airflow] d missed its deadline (run r)"
    assert "Deadline: 06:00 Paris (2024-01-02T05:00:00+00:00)" in alert.body
    assert "Run's page: http://a/dags/d/runs/r" in alert.body
    assert alert.body.endswith("When it fails:\nA failure means late.")


def test_no_configuration_means_email_through_smtp_default():
    settings = delivery_settings(None)
    assert settings.notifier == SMTP_NOTIFIER
    assert settings.kwargs["smtp_conn_id"] == "smtp_default"
    assert (settings.subject_field, settings.body_field, settings.html) == ("subject", "html_content", True)


def test_configured_smtp_kwargs_override_the_defaults():
    settings = delivery_settings({"kwargs": {"to": ["ops@example.org"], "smtp_conn_id": "smtp_ops"}})
    assert settings.kwargs == {
        "smtp_conn_id": "smtp_ops",
        "to": ["ops@example.org"],
        "from_email": "airflow@localhost",
    }


def test_another_notifier_gets_one_text_message_unless_configured():
    settings = delivery_settings({"notifier": "some.module:ChatNotifier", "kwargs": {"channel": "#ops"}})
    assert settings == DeliverySettings("some.module:ChatNotifier", {"channel": "#ops"}, None, "text", False)
    custom = delivery_settings({"notifier": "m:N", "subject_field": "title", "body_field": "message"})
    assert (custom.subject_field, custom.body_field) == ("title", "message")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"notifer": "m:N"}, "unknown keys"),
        ({"notifier": "module.Class"}, "module:Class"),
        ({"kwargs": ["to"]}, "kwargs must be an object"),
    ],
)
def test_bad_configuration_is_refused_naming_the_variable(config, message):
    with pytest.raises(ValueError, match=message) as error:
        delivery_settings(config)
    assert "analytics_alerts" in str(error.value)


def test_notifier_class_imports_notifiers_only():
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    assert notifier_class(SMTP_NOTIFIER) is SmtpNotifier
    with pytest.raises(ValueError, match="not a BaseNotifier"):
        notifier_class("datetime:timedelta")
    with pytest.raises(ValueError, match="cannot import"):
        notifier_class("no_such_module_here:Notifier")


def test_the_email_body_is_escaped_html_and_never_a_template():
    alert = failure_alert(
        dag_id="d",
        task_id="t",
        run_id="r",
        try_number=1,
        log_url="u",
        when_it_fails_lines="use {{ params.x }} & <b>",
    )
    notifier = notifier_for(alert, delivery_settings(None))
    notifier.render_template_fields({})
    assert notifier.subject == alert.subject
    assert notifier.html_content.startswith("<pre>DAG: d\n")
    assert "use {{ params.x }} &amp; &lt;b&gt;" in notifier.html_content


def test_deadline_rules_and_their_overrides():
    assert deadline_rule("engagement_elt_daily", {}) == DEADLINES["engagement_elt_daily"]
    assert DEADLINES["engagement_elt_daily"].interval == timedelta(hours=30)
    assert deadline_rule("engagement_elt_daily", {"ANALYTICS_DEADLINE__ENGAGEMENT_ELT_DAILY": "off"}) is None
    rule = deadline_rule("bi_monthly_aggregation", {"ANALYTICS_DEADLINE__BI_MONTHLY_AGGREGATION": "90"})
    assert (rule.reference, rule.interval) == ("queued_at", timedelta(minutes=90))
    assert deadline_rule("course_kpis", {}) is None
    with pytest.raises(ValueError, match="expected minutes"):
        deadline_rule("course_kpis", {"ANALYTICS_DEADLINE__COURSE_KPIS": "6h"})


def test_deadline_alert_calls_back_with_the_label_and_the_docs(monkeypatch):
    monkeypatch.delenv("ANALYTICS_DEADLINE__TRACKING_LOGS_MASTER_LOAD", raising=False)
    alert = deadline_alert("tracking_logs_master_load", DOC)
    assert alert.interval == timedelta(hours=1)
    assert alert.callback.path == "analytics.alerts.notify_missed_deadline"
    assert alert.callback.kwargs["when_it_fails_lines"] == when_it_fails(DOC)
    assert deadline_alert("course_kpis", DOC) is None


def test_a_backfill_run_missing_its_deadline_is_no_alert():
    assert deadline_applies({"run_type": "scheduled"})
    assert deadline_applies({"run_type": "manual"})
    assert deadline_applies({"run_type": "asset_triggered"})
    assert not deadline_applies({"run_type": "backfill"})


def test_the_local_stacks_switch_off_exactly_the_deadlines_there_are():
    """scripts/stack.py turns every deadline off for `airflow dags test` (Airflow 3.3.2 cannot run a DAG with one)."""
    from scripts.stack import DEADLINE_DAGS

    assert set(DEADLINE_DAGS) == set(DEADLINES)
