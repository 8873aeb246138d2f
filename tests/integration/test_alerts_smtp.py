"""Alerts end to end: real Airflow runs, a real SMTP server (aiosmtpd) started by the test.

A probe DAG built on :func:`analytics.dag_defaults.default_args` has a task that fails on every
try: ``airflow dags test`` runs it with one retry, and exactly one mail arrives, after the last
try, naming the DAG, task, run, try, log URL and the DAG's "When it fails" lines. A second probe
DAG carries :func:`analytics.alerts.deadline_alert` (one minute, set through its
``ANALYTICS_DEADLINE__...`` variable) and a task that outlasts it: run by the real scheduler
(``tests/airflow_services.py``), its missed deadline sends one mail.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.airflow_services import airflow_services, metadata_database, migrate_metadata_db

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
RECIPIENT = "oncall@example.org"

DOC = '''"""
# Alert probe

## What it does

Fails on purpose, for the alert tests.

## Params

None.

## When it fails

A failure means the probe worked. What to do:
nothing, it is a test.
this third line is quoted too

## Owner

data-engineering.
"""
'''

FAILING_DAG = (
    DOC
    + """
from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from analytics.dag_defaults import default_args


@dag(
    dag_id="alerts_failure_probe",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    doc_md=__doc__,
    default_args=default_args(retries=1, retry_delay=timedelta(seconds=1), retry_exponential_backoff=False),
    tags=["manual"],
)
def alerts_failure_probe():
    @task
    def fails_every_try():
        raise ValueError("probe failure")

    @task
    def succeeds():
        return 1

    fails_every_try()
    succeeds()


alerts_failure_probe()
"""
)

DEADLINE_DAG = (
    DOC
    + """
import time

import pendulum
from airflow.sdk import dag, task

from analytics.alerts import deadline_alert
from analytics.dag_defaults import default_args


@dag(
    dag_id="alerts_deadline_probe",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    doc_md=__doc__,
    deadline=deadline_alert("alerts_deadline_probe", __doc__),
    default_args=default_args(retries=0),
    tags=["manual"],
)
def alerts_deadline_probe():
    @task
    def outlasts_the_deadline():
        time.sleep(100)

    outlasts_the_deadline()


alerts_deadline_probe()
"""
)


class Inbox:
    """What the SMTP server received: each message parsed, with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def wait_for(self, count: int, timeout: float) -> list[tuple[list[str], email.message.EmailMessage]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages) < count:
            time.sleep(0.5)
        return list(self.messages)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port; yields (inbox, AIRFLOW_CONN_SMTP_DEFAULT)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, f"smtp://127.0.0.1:{port}?disable_tls=true&disable_ssl=true&timeout=10&retry_limit=1"
    finally:
        controller.stop()


def _body(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("html", "plain")).get_content()


def test_a_task_failing_after_its_retry_sends_exactly_one_mail(tmp_path, smtp_server):
    inbox, connection = smtp_server
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "alerts_failure_probe.py").write_text(FAILING_DAG)
    env = {
        **os.environ,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW_CONN_SMTP_DEFAULT": connection,
        "AIRFLOW_VAR_ANALYTICS_ALERTS": json.dumps({"kwargs": {"to": [RECIPIENT]}}),
        "AIRFLOW__API__BASE_URL": "http://airflow.example:8080",
    }
    result = subprocess.run(
        [AIRFLOW, "dags", "test", "alerts_failure_probe", "2024-01-02"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )
    output = result.stdout + result.stderr
    assert output.count("probe failure") >= 2, output[-3000:]  # both tries ran and failed
    messages = inbox.wait_for(1, timeout=10)
    time.sleep(1)  # nothing more on its way
    assert len(inbox.messages) == 1, [m["Subject"] for _, m in inbox.messages]
    recipients, message = messages[0]
    assert recipients == [RECIPIENT]
    subject = re.fullmatch(
        r"\[airflow\] alerts_failure_probe\.fails_every_try failed \(run (manual__\S+), try 2\)",
        message["Subject"],
    )
    assert subject, message["Subject"]
    run_id = subject.group(1)
    body = _body(message)
    for line in (
        "DAG: alerts_failure_probe",
        "Task: fails_every_try",
        f"Run: {run_id}",
        "Try: 2",
        f"Log: http://airflow.example:8080/dags/alerts_failure_probe/runs/{quote(run_id)}"
        "/tasks/fails_every_try?try_number=2",
        "Error: probe failure",
        "A failure means the probe worked. What to do:",
        "this third line is quoted too",
    ):
        assert line in body, f"{line!r} not in the mail:\n{body}"


@pytest.mark.slow
def test_a_missed_deadline_sends_a_mail(tmp_path, smtp_server):
    inbox, connection = smtp_server
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "alerts_deadline_probe.py").write_text(DEADLINE_DAG)
    env = {
        **os.environ,
        "AIRFLOW_CONN_SMTP_DEFAULT": connection,
        "AIRFLOW_VAR_ANALYTICS_ALERTS": json.dumps({"kwargs": {"to": [RECIPIENT]}}),
        "ANALYTICS_DEADLINE__ALERTS_DEADLINE_PROBE": "1",  # minutes after the run is queued
    }
    home = tmp_path / "airflow"
    with metadata_database(env) as database_url:
        migrate_metadata_db(home, env, database_url)
        with airflow_services(home, env, database_url=database_url, dags_folder=dags) as services:
            services.wait_for_dag_serialized("alerts_deadline_probe")
            services.unpause("alerts_deadline_probe")
            run = services.request(
                "POST", "/api/v2/dags/alerts_deadline_probe/dagRuns", body={"logical_date": None}
            )
            messages = inbox.wait_for(1, timeout=150)
            assert messages, "no mail within 150 s of the run\n" + services.logs_tail()
    assert len(messages) == 1, [m["Subject"] for _, m in messages]
    recipients, message = messages[0]
    assert recipients == [RECIPIENT]
    assert (
        message["Subject"] == f"[airflow] alerts_deadline_probe missed its deadline (run {run['dag_run_id']})"
    )
    body = _body(message)
    for line in (
        "DAG: alerts_deadline_probe",
        f"Run: {run['dag_run_id']}",
        "Deadline: 1 minutes after its queued at",
        "/dags/alerts_deadline_probe/runs/",
        "A failure means the probe worked. What to do:",
    ):
        assert line in body, f"{line!r} not in the mail:\n{body}"


def test_the_local_stack_keeps_its_alert_mail_in_a_maildir():
    """`make stack-test` / `make run` start an SMTP server of their own: smtp_default delivers to its Maildir."""
    import mailbox
    import uuid
    from pathlib import Path

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    subject = f"[airflow] stack mail probe {uuid.uuid4().hex}"
    with SmtpHook(smtp_conn_id="smtp_default") as hook:
        hook.send_email_smtp(
            to=RECIPIENT, subject=subject, html_content="<p>probe</p>", from_email="airflow@localhost"
        )
    maildir = mailbox.Maildir(Path(os.environ["ANALYTICS_LOCAL_DIR"]) / "mail", create=False)
    assert subject in [message["Subject"] for message in maildir]
