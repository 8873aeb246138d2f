"""Alerts: one notifier for failed tasks and missed deadlines, its delivery chosen by configuration.

Every task gets :class:`FailureNotifier` as its ``on_failure_callback`` (through
:func:`analytics.dag_defaults.default_args`), which Airflow calls once per task instance that
failed after its last try (a try that will be retried calls ``on_retry_callback`` instead). The
DAGs that must finish by a time carry a :func:`deadline_alert`, whose callback
:func:`notify_missed_deadline` sends through the same delivery. An alert names the DAG, the run,
the task and its try, links to the log (or the run) and quotes the first lines of the DAG's
``## When it fails`` section. Delivery is an Airflow notifier class, by default the SMTP
provider's ``SmtpNotifier`` on the ``smtp_default`` connection; the ``analytics_alerts``
Variable (JSON, e.g. ``AIRFLOW_VAR_ANALYTICS_ALERTS``) can name another one, read when an alert
is sent, never when a DAG is parsed (see :func:`delivery_settings`). Deadlines are set per DAG
in :data:`DEADLINES` and overridden by ``ANALYTICS_DEADLINE__<DAG_ID>`` environment variables.
"""

from __future__ import annotations

import html
import importlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseNotifier, DeadlineAlert, DeadlineReference, SyncCallback

log = logging.getLogger(__name__)

DOC_HEADINGS = ("What it does", "Params", "When it fails", "Owner")
WHEN_IT_FAILS = "When it fails"
WHEN_IT_FAILS_LINES = 4
ALERTS_VARIABLE = "analytics_alerts"
SMTP_NOTIFIER = "airflow.providers.smtp.notifications.smtp:SmtpNotifier"
DEFAULT_RECIPIENT = "data-engineering@localhost"
DEFAULT_SENDER = "airflow@localhost"
DEADLINE_VARIABLE_PREFIX = "ANALYTICS_DEADLINE__"
HEADING = re.compile(r"^##\s+(?P<title>.+?)\s*$")


# ---------------------------------------------------------------------------------------------
# The DAG's documentation


def doc_sections(doc_md: str | None) -> dict[str, str]:
    """The ``## <heading>`` sections of a DAG's doc_md, in order, each heading to its stripped body."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (doc_md or "").splitlines():
        heading = HEADING.match(line)
        if heading:
            current = sections.setdefault(heading.group("title"), [])
        elif current is not None:
            current.append(line)
    return {title: "\n".join(lines).strip() for title, lines in sections.items()}


def when_it_fails(doc_md: str | None, lines: int = WHEN_IT_FAILS_LINES) -> str:
    """The first ``lines`` non-blank lines of the doc's "When it fails" section ('' when it has none)."""
    body = doc_sections(doc_md).get(WHEN_IT_FAILS, "")
    return "\n".join([line for line in body.splitlines() if line.strip()][:lines])


# ---------------------------------------------------------------------------------------------
# The message


@dataclass(frozen=True)
class Alert:
    """What an alert says: a one-line subject and a plain-text body."""

    subject: str
    body: str


def failure_alert(
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int | None,
    log_url: str,
    when_it_fails_lines: str,
    map_index: int | None = None,
    error: str | None = None,
) -> Alert:
    """The alert for a task that failed after its last try."""
    task = task_id if map_index is None or map_index < 0 else f"{task_id}[{map_index}]"
    lines = [
        f"DAG: {dag_id}",
        f"Task: {task}",
        f"Run: {run_id}",
        f"Try: {try_number}",
        f"Log: {log_url}",
    ]
    if error:
        lines.append(f"Error: {error}")
    return Alert(
        subject=f"[airflow] {dag_id}.{task} failed (run {run_id}, try {try_number})",
        body="\n".join([*lines, "", "When it fails:", when_it_fails_lines or "(the DAG's docs say nothing)"]),
    )


def deadline_alert_message(
    *, dag_id: str, run_id: str, deadline_time: str, deadline: str, run_url: str, when_it_fails_lines: str
) -> Alert:
    """The alert for a run still unfinished at its deadline."""
    lines = [
        f"DAG: {dag_id}",
        f"Run: {run_id}",
        f"Deadline: {deadline} ({deadline_time})",
        f"Run's page: {run_url}",
    ]
    return Alert(
        subject=f"[airflow] {dag_id} missed its deadline (run {run_id})",
        body="\n".join([*lines, "", "When it fails:", when_it_fails_lines or "(the DAG's docs say nothing)"]),
    )


# ---------------------------------------------------------------------------------------------
# Delivery: which notifier sends it


@dataclass(frozen=True)
class DeliverySettings:
    """The notifier class that sends alerts, its arguments, and which of them carry the message.

    ``subject_field`` None folds the subject into the body (a chat message has no subject);
    ``html`` sends the body as escaped, pre-formatted HTML (an e-mail's ``html_content``).
    """

    notifier: str = SMTP_NOTIFIER
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    subject_field: str | None = "subject"
    body_field: str = "html_content"
    html: bool = True


def delivery_settings(config: Mapping[str, Any] | None) -> DeliverySettings:
    """Settings from the ``analytics_alerts`` Variable's JSON; no config: e-mail through ``smtp_default``.

    Keys: ``notifier`` (``module:Class``, a BaseNotifier), ``kwargs`` (its arguments),
    ``subject_field`` and ``body_field`` (the arguments that take the subject and the body),
    ``html``. For the default notifier ``kwargs`` default to ``smtp_conn_id`` ``smtp_default``,
    ``to`` :data:`DEFAULT_RECIPIENT` and ``from_email`` :data:`DEFAULT_SENDER`; for another one
    ``subject_field`` defaults to none, ``body_field`` to ``text`` and ``html`` to false.
    """
    config = dict(config or {})
    unknown = set(config) - {"notifier", "kwargs", "subject_field", "body_field", "html"}
    if unknown:
        raise ValueError(f"{ALERTS_VARIABLE}: unknown keys {sorted(unknown)}")
    notifier = config.get("notifier") or SMTP_NOTIFIER
    if not re.fullmatch(r"[\w.]+:\w+", notifier):
        raise ValueError(f"{ALERTS_VARIABLE}: notifier must be 'module:Class', got {notifier!r}")
    kwargs = config.get("kwargs") or {}
    if not isinstance(kwargs, Mapping):
        raise ValueError(f"{ALERTS_VARIABLE}: kwargs must be an object, got {kwargs!r}")
    if notifier == SMTP_NOTIFIER:
        kwargs = {
            "smtp_conn_id": "smtp_default",
            "to": DEFAULT_RECIPIENT,
            "from_email": DEFAULT_SENDER,
            **kwargs,
        }
        defaults = DeliverySettings()
    else:
        defaults = DeliverySettings(notifier, subject_field=None, body_field="text", html=False)
    return DeliverySettings(
        notifier=notifier,
        kwargs=dict(kwargs),
        subject_field=config.get("subject_field", defaults.subject_field),
        body_field=config.get("body_field", defaults.body_field),
        html=bool(config.get("html", defaults.html)),
    )


def notifier_class(path: str) -> type:
    """The class ``module:Class`` names; it must be an Airflow notifier."""
    module_name, _, class_name = path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"{ALERTS_VARIABLE}: cannot import notifier {path!r}: {error}") from error
    if not (isinstance(found, type) and issubclass(found, BaseNotifier)):
        raise ValueError(f"{ALERTS_VARIABLE}: {path!r} is not a BaseNotifier")
    return found


def notifier_for(alert: Alert, settings: DeliverySettings) -> BaseNotifier:
    """The configured notifier, built with the alert in its message arguments."""
    cls = notifier_class(settings.notifier)
    body = alert.body if settings.subject_field else f"{alert.subject}\n\n{alert.body}"
    if settings.html:
        body = f"<pre>{html.escape(body)}</pre>"
    message = {settings.body_field: body}
    if settings.subject_field:
        message[settings.subject_field] = alert.subject
    templated = set(getattr(cls, "template_fields", ()))
    # The notifier renders its template fields with Jinja: the message is text, never a template.
    message = {name: _verbatim(value) if name in templated else value for name, value in message.items()}
    return cls(**{**settings.kwargs, **message})


def _verbatim(text: str) -> str:
    return "{% raw %}" + text.replace("{% endraw %}", "{ % endraw % }") + "{% endraw %}"


def send(alert: Alert, context: Mapping[str, Any]) -> None:
    """Send ``alert`` through the notifier the ``analytics_alerts`` Variable names (default: e-mail)."""
    from airflow.sdk import Variable

    settings = delivery_settings(Variable.get(ALERTS_VARIABLE, default=None, deserialize_json=True))
    log.info("alert through %s: %s", settings.notifier, alert.subject)
    notifier_for(alert, settings)(dict(context))


# ---------------------------------------------------------------------------------------------
# Failed tasks


class FailureNotifier(BaseNotifier):
    """The ``on_failure_callback`` of every task: one alert per task that failed after its last try."""

    def notify(self, context: Mapping[str, Any]) -> None:
        ti = context["ti"]
        dag = context.get("dag")
        error = context.get("exception")
        alert = failure_alert(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            map_index=getattr(ti, "map_index", None),
            run_id=ti.run_id,
            try_number=ti.try_number,
            log_url=ti.log_url,
            when_it_fails_lines=when_it_fails(getattr(dag, "doc_md", None)),
            error=str(error).splitlines()[0][:300] if error and str(error) else None,
        )
        send(alert, context)


# ---------------------------------------------------------------------------------------------
# Deadlines


@dataclass(frozen=True)
class DeadlineRule:
    """A run must be finished ``interval`` after its ``reference`` (``logical_date`` or ``queued_at``)."""

    reference: str
    interval: timedelta
    label: str


DEADLINES = {
    # Logical date: the Paris midnight starting the day loaded; the run starts 24 h later.
    "engagement_elt_daily": DeadlineRule(
        "logical_date", timedelta(hours=30), "06:00 Europe/Paris the day after the day it loads"
    ),
    # Queued by the 03:00 UTC download (or the 04:00 cron): one hour to load.
    "tracking_logs_master_load": DeadlineRule(
        "queued_at", timedelta(hours=1), "1 hour after it is queued (04:00 UTC)"
    ),
    # Queued at midnight on the 1st: six hours to aggregate the month.
    "bi_monthly_aggregation": DeadlineRule(
        "queued_at", timedelta(hours=6), "6 hours after it is queued (the 1st 06:00)"
    ),
}
REFERENCES = {
    "logical_date": DeadlineReference.DAGRUN_LOGICAL_DATE,
    "queued_at": DeadlineReference.DAGRUN_QUEUED_AT,
}


def deadline_rule(dag_id: str, environ: Mapping[str, str] = os.environ) -> DeadlineRule | None:
    """The DAG's rule: :data:`DEADLINES`, its interval replaced by ``ANALYTICS_DEADLINE__<DAG_ID>``.

    The variable holds minutes (``90``) or ``off`` (no deadline); it is read where the DAG is
    parsed (the dag-processor's environment) and applies to the runs created after that.
    """
    rule = DEADLINES.get(dag_id)
    override = environ.get(DEADLINE_VARIABLE_PREFIX + dag_id.upper(), "").strip()
    if not override:
        return rule
    if override.lower() == "off":
        return None
    if not override.isdigit() or int(override) == 0:
        raise ValueError(
            f"{DEADLINE_VARIABLE_PREFIX}{dag_id.upper()}: expected minutes or 'off', got {override!r}"
        )
    interval = timedelta(minutes=int(override))
    reference = rule.reference if rule else "queued_at"
    return DeadlineRule(
        reference, interval, f"{int(override)} minutes after its {reference.replace('_', ' ')}"
    )


def deadline_alert(dag_id: str, doc_md: str | None) -> DeadlineAlert | None:
    """The DAG's ``deadline=``: :func:`notify_missed_deadline` when a run is not finished in time."""
    rule = deadline_rule(dag_id)
    if rule is None:
        return None
    return DeadlineAlert(
        reference=REFERENCES[rule.reference],
        interval=rule.interval,
        callback=SyncCallback(
            notify_missed_deadline,
            kwargs={"deadline": rule.label, "when_it_fails_lines": when_it_fails(doc_md)},
        ),
        name=f"{dag_id} deadline",
    )


def deadline_applies(run: Mapping[str, Any]) -> bool:
    """Whether a missed deadline of ``run`` (the callback context's ``dag_run``) is an alert: not for backfills."""
    return run.get("run_type") != "backfill"


def notify_missed_deadline(
    context: Mapping[str, Any], deadline: str = "", when_it_fails_lines: str = ""
) -> None:
    """A deadline's callback (run by the executor): the alert for the run in ``context``."""
    from urllib.parse import quote

    from airflow.sdk.configuration import conf

    run = context.get("dag_run") or {}
    if not deadline_applies(run):
        log.info("no deadline alert for %s: a backfill recomputes history", run.get("dag_run_id"))
        return
    dag_id, run_id = run.get("dag_id", "?"), run.get("dag_run_id") or run.get("run_id", "?")
    base_url = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    alert = deadline_alert_message(
        dag_id=dag_id,
        run_id=run_id,
        deadline_time=str((context.get("deadline") or {}).get("deadline_time", "?")),
        deadline=deadline,
        run_url=f"{base_url}/dags/{dag_id}/runs/{quote(run_id)}",
        when_it_fails_lines=when_it_fails_lines,
    )
    send(alert, context)
