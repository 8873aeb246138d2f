"""The Airflow UI as an operator sees it, in Debian's headless Chromium driven by Playwright.

One module-wide stack: a fresh metadata database, the api-server, scheduler and dag-processor of
``tests/airflow_services.py`` on the repository's ``dags/``, with the simple auth manager's real
login (a users file, not all-admins). The edX chain runs on small generated data, each DAG
triggered through the REST API with the conf ``scripts/run_demo.py`` gives it, in the order the
Assets link them: ``edx_course_ingestion``, ``s3_log_download`` (from a bucket of its own),
``tracking_logs_master_load``, ``course_tracking_extraction``, ``course_kpis``; the last three
map a task per file or course. Then the browser logs in and checks the DAG list, each DAG's
documentation, the grid of a finished run, the trigger form of every DAG and the Assets view.

Screenshots are kept under ``$ANALYTICS_LOCAL_DIR/artifacts/ui/`` (one per page checked).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.airflow_services import (
    AirflowServices,
    SimpleUser,
    airflow_services,
    metadata_database,
    migrate_metadata_db,
)
from tests.dags.conftest import REPO, generate_demo_data

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
OPERATOR = SimpleUser("operator", f"ui-test-{uuid.uuid4().hex[:12]}", "admin")
DOC_HEADINGS = ("What it does", "Params", "When it fails", "Owner")
EDX_CHAIN_ASSETS = (
    "edx_tracking_landing",
    "tracking_logs_master",
    "edx_course_tracking",
    "edx_course_kpis",
)
UI_TIMEOUT_MS = 30_000


@dataclass
class UiStack:
    services: AirflowServices
    runs: dict[str, str] = field(default_factory=dict)  # dag_id -> run id of its finished run
    demo: Path | None = None


def _upload_logs(demo: Path, bucket: str) -> None:
    from analytics.stores.s3 import S3Store
    from scripts.demo_data.s3_upload import upload_tracking_logs

    with S3Store() as store:
        store.hook.get_conn().create_bucket(Bucket=bucket)
    upload_tracking_logs(demo, bucket=bucket, prefix="logs/")


def _drop_bucket(bucket: str) -> None:
    from analytics.stores.s3 import S3Store

    with S3Store() as store:
        client = store.hook.get_conn()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=entry["Key"])
        client.delete_bucket(Bucket=bucket)


@contextmanager
def ui_stack(work: Path) -> Iterator[UiStack]:
    """The services on ``dags/``, logged-in REST calls, and the edX chain's runs, each finished."""
    demo = generate_demo_data(work / "demo", seed=11, courses=2, days=2, events_per_day=60)
    landing = work / "landing"
    landing.mkdir()
    bucket = f"test-ui-{uuid.uuid4().hex[:12]}"
    _upload_logs(demo, bucket)
    home = work / "airflow"
    overrides = {
        "AIRFLOW_VAR_EDX_PACKAGE_DIR": str(demo / "package"),
        "AIRFLOW_VAR_EDX_TRACKING_DIR": str(landing),
        "AIRFLOW_VAR_EDX_COURSE_CONFIG_DIR": str(demo / "courses"),
        "AIRFLOW_VAR_EDX_REPORT_DIR": str(work / "reports"),
    }
    tracking_names = [path.name.removesuffix(".gz") for path in sorted((demo / "tracking").glob("*.log.gz"))]
    chain = [
        ("edx_course_ingestion", {}),
        ("s3_log_download", {"bucket": bucket, "prefix": "logs/", "from_date": "2024-03-01"}),
        # the master is shared by the test suite: these files may be there already, load them again
        ("tracking_logs_master_load", {"reload_files": tracking_names}),
        ("course_tracking_extraction", {}),
        ("course_kpis", {"s3_prefix": f"test-ui/{bucket}/"}),
    ]
    try:
        with metadata_database(os.environ) as database_url:
            migrate_metadata_db(home, os.environ, database_url)
            with airflow_services(
                home,
                os.environ,
                database_url=database_url,
                dags_folder=REPO / "dags",
                overrides=overrides,
                users=[OPERATOR],
            ) as services:
                stack = UiStack(services, demo=demo)
                for dag_id, conf in chain:
                    services.wait_for_dag_serialized(dag_id)
                    services.unpause(dag_id)
                    run_id = services.trigger_dag_run(dag_id, conf)
                    state = services.wait_for_dag_run(dag_id, run_id)
                    assert state == "success", f"{dag_id} {run_id}: {state}"
                    stack.runs[dag_id] = run_id
                yield stack
    finally:
        _drop_bucket(bucket)
        _drop_course_databases(demo)


def _drop_course_databases(demo: Path) -> None:
    from analytics.connections import MONGO_DEFAULT
    from analytics.edx.course_configs import list_course_configs, parse_course_config
    from analytics.stores.mongo import mongo_client

    with mongo_client(MONGO_DEFAULT) as client:
        for path in list_course_configs(demo / "courses"):
            client.drop_database(parse_course_config(path).database_name)


def screenshots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$ANALYTICS_LOCAL_DIR/artifacts/ui/`` (a temporary folder when the variable is unset)."""
    local = os.environ.get("ANALYTICS_LOCAL_DIR")
    directory = Path(local) / "artifacts" / "ui" if local else tmp_path_factory.mktemp("ui-artifacts")
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def words(text: str) -> str:
    """Text with its whitespace runs made single spaces (the UI wraps and indents)."""
    return " ".join(text.split())


class Operator:
    """A logged-in browser tab, with the moves an operator makes and a screenshot after each page."""

    def __init__(self, page, base_url: str, shots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.shots = shots

    def open(self, path: str, ready_text: str):
        """Go to ``path`` and wait until ``ready_text`` shows (the UI loads its texts after the page)."""
        from playwright.sync_api import expect

        self.page.goto(self.base_url + path)
        expect(self.page.get_by_text(ready_text, exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def text(self, locator=None) -> str:
        return words((locator or self.page.locator("body")).inner_text(timeout=UI_TIMEOUT_MS))


def run_path(dag_id: str, run_id: str) -> str:
    return f"/dags/{dag_id}/runs/{urllib.parse.quote(run_id, safe='')}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStack]:
    started = time.monotonic()
    with ui_stack(tmp_path_factory.mktemp("ui-stack")) as running:
        print(f"\n[ui] services up and the edX chain run in {time.monotonic() - started:.0f}s")
        yield running


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make setup` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshots_dir(tmp_path_factory)


def log_in(browser, stack: UiStack, shots: Path, password: str) -> Operator:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(UI_TIMEOUT_MS)
    operator = Operator(page, stack.services.base_url, shots)
    page.goto(operator.base_url + "/dags")
    page.wait_for_url("**/auth/login**")  # not logged in: the UI sends us to the login form
    page.get_by_label("Username").fill(OPERATOR.username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    return operator


@pytest.fixture(scope="module")
def operator(browser, stack: UiStack, shots: Path) -> Operator:
    operator = log_in(browser, stack, shots, OPERATOR.password)
    operator.page.wait_for_url(f"{operator.base_url}/dags")
    return operator


@pytest.fixture(scope="module")
def declared_dags() -> dict:
    """The DAGs as their files declare them (params with titles and descriptions)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def dag_files() -> list[str]:
    return sorted(path.stem for path in (REPO / "dags").glob("*.py"))


def test_a_wrong_password_is_refused_and_the_right_one_logs_in(browser, stack, shots, operator):
    from playwright.sync_api import expect

    intruder = log_in(browser, stack, shots, "not-the-password")
    intruder.page.wait_for_timeout(3000)
    intruder.shot("login-refused")
    expect(intruder.page.get_by_label("Password")).to_be_visible()
    assert "/auth/login" in intruder.page.url, intruder.page.url
    intruder.page.close()
    home = operator.open("/", "Welcome")  # the operator's tab, logged in by the fixture
    expect(home.get_by_role("heading", name="Health")).to_be_visible()
    operator.shot("home")


def test_the_dag_list_shows_every_dag_with_its_tags_and_no_import_error(operator, stack):
    from playwright.sync_api import expect

    operator.open("/", "Welcome")
    assert "Dag Import Error" not in operator.text(), "the home page counts import errors"
    assert stack.services.import_errors() == []
    page = operator.open("/dags", "Dags")
    dags = dag_files()
    expect(page.get_by_role("heading", name=f"{len(dags)} Dags")).to_be_visible()
    for dag_id in dags:
        expect(page.get_by_role("link", name=dag_id, exact=True)).to_be_visible()
    page.get_by_role("button", name="Show table view").click()
    page.wait_for_load_state("networkidle")
    operator.shot("dags")
    for dag_id in dags:
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=dag_id, exact=True))
        listed = operator.text(row)
        declared = stack.services.request("GET", f"/api/v2/dags/{dag_id}")
        tags = sorted(tag["name"] for tag in declared["tags"])
        assert tags, f"{dag_id} has no tags"
        shown = [tag for tag in tags if tag in listed]
        hidden = re.search(r"\+(\d+) more", listed)
        assert len(shown) + (int(hidden.group(1)) if hidden else 0) == len(tags), (dag_id, tags, listed)


@pytest.mark.parametrize("dag_id", dag_files())
def test_each_dag_page_shows_its_owner_tags_and_documentation_headings(operator, stack, dag_id):
    from playwright.sync_api import expect

    page = operator.open(f"/dags/{dag_id}", "Owner")
    declared = stack.services.request("GET", f"/api/v2/dags/{dag_id}")
    for owner in declared["owners"]:  # the header's values arrive after its labels on a busy machine
        expect(page.get_by_text(re.compile(rf"\b{re.escape(owner)}\b")).first).to_be_visible(
            timeout=UI_TIMEOUT_MS
        )
    header = operator.text()
    assert declared["owners"] and declared["owners"] != ["airflow"], declared["owners"]
    for owner in declared["owners"]:
        assert f"Owner {owner}" in header, header[:600]
    tags = sorted(tag["name"] for tag in declared["tags"])
    shown = re.search(r"Tags (.*?)(?: \+(\d+) more)? Latest Dag Version", header)
    assert shown, header[:600]
    listed = [tag.strip() for tag in shown.group(1).split(",") if tag.strip()]
    assert set(listed) <= set(tags) and len(listed) + int(shown.group(2) or 0) == len(tags), (
        tags,
        shown.group(0),
    )
    page.get_by_role("button", name="Dag Docs").click()
    docs = page.get_by_role("dialog")
    expect(docs.get_by_role("heading", name="Dag Documentation")).to_be_visible()
    operator.shot(f"docs-{dag_id}")
    rendered = [words(text) for text in docs.get_by_role("heading", level=2).all_inner_texts()]
    missing = [heading for heading in DOC_HEADINGS if heading not in rendered]
    docs.get_by_role("button", name="Close").click()
    assert missing == [], f"{dag_id}'s documentation has no heading {missing} (it has {rendered})"


def test_the_runs_show_their_tasks_and_mapped_tasks_by_file_or_course(operator, stack):
    from playwright.sync_api import expect

    expected_labels = {
        ("tracking_logs_master_load", "load_file"): [
            path.name.removesuffix(".gz") for path in sorted((stack.demo / "tracking").glob("*.log.gz"))
        ],
        ("course_tracking_extraction", "extract_course"): [
            path.name for path in sorted((stack.demo / "courses").glob("*.json"))
        ],
        ("course_kpis", "compute_course"): [
            path.name for path in sorted((stack.demo / "courses").glob("*.json"))
        ],
    }
    for dag_id, run_id in stack.runs.items():
        operator.open(run_path(dag_id, run_id), "Task Instances")
        shown = operator.text().lower()
        tasks = stack.services.request("GET", f"/api/v2/dags/{dag_id}/tasks")["tasks"]
        for task in tasks:
            assert task["task_id"] in shown, (dag_id, task["task_id"])
        assert "success" in shown
        operator.shot(f"run-{dag_id}")
    for (dag_id, task_id), labels in expected_labels.items():
        # the run's Task Instances table: one row per mapped instance, its Map Index the label
        operator.open(run_path(dag_id, stack.runs[dag_id]), "Map Index")
        rows = operator.page.get_by_role("row").filter(
            has=operator.page.get_by_role("link", name=task_id, exact=True)
        )
        expect(rows).to_have_count(len(labels), timeout=UI_TIMEOUT_MS)  # the rows arrive after the header
        shown = sorted(operator.text(row).lower() for row in rows.all())
        assert len(shown) == len(labels), (dag_id, task_id, shown)
        for label in labels:
            assert any(label.lower() in row for row in shown), (dag_id, task_id, label, shown)


def trigger_form(operator: Operator, dag_id: str):
    from playwright.sync_api import expect

    page = operator.open(f"/dags/{dag_id}", "Owner")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    expect(form.get_by_text("Run Parameters")).to_be_visible()
    page.wait_for_load_state("networkidle")
    return form


@pytest.mark.parametrize("dag_id", dag_files())
def test_the_trigger_form_shows_every_param_with_its_title_and_description(operator, declared_dags, dag_id):
    params = declared_dags[dag_id].params
    assert params, f"{dag_id} has no params"
    form = trigger_form(operator, dag_id)
    operator.shot(f"trigger-{dag_id}")
    shown = operator.text(form)
    for name in params:
        param = params.get_param(name)
        title, description = param.schema.get("title"), param.description
        assert title and description, f"{dag_id}.{name} lacks a title or a description"
        assert words(title) in shown, (dag_id, name, title)
        assert words(description) in shown, (dag_id, name, description)
    # Every param is optional or has a default: the form as it opens can be triggered.
    assert form.get_by_role("button", name="Trigger", exact=True).is_enabled(), (
        f"{dag_id}: the trigger form with its defaults keeps Trigger disabled (a required param?)"
    )
    operator.page.keyboard.press("Escape")


def test_a_bad_param_value_is_refused_with_the_params_message(operator, stack):
    from playwright.sync_api import expect

    dag_id = "s3_log_download"
    runs_before = stack.services.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["total_entries"]
    form = trigger_form(operator, dag_id)
    values = {"bucket": "a-bucket", "prefix": "logs/", "landing_dir": "/tmp", "from_date": "yesterday"}
    for name, value in values.items():
        form.locator(f"input[name='element_{name}']").fill(value)
    form.get_by_role("button", name="Trigger", exact=True).click()
    page = operator.page
    expect(page.get_by_text("Failed to Trigger Dag").first).to_be_visible()
    message = page.get_by_text("Invalid input for param from_date").first
    expect(message).to_be_visible()
    assert "'yesterday' does not match" in words(message.inner_text())
    operator.shot("trigger-refused")
    assert stack.services.request("GET", f"/api/v2/dags/{dag_id}/dagRuns")["total_entries"] == runs_before


def test_the_assets_view_shows_the_edx_chain_from_s3_to_the_kpis(operator, stack):
    from playwright.sync_api import expect

    page = operator.open("/assets", "Name")
    for name in EDX_CHAIN_ASSETS:
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    operator.shot("assets")
    assets = stack.services.request("GET", "/api/v2/assets", query={"limit": 100})["assets"]
    landing = next(asset for asset in assets if asset["name"] == EDX_CHAIN_ASSETS[0])
    page = operator.open(f"/assets/{landing['id']}", "Task Dependencies")
    page.wait_for_timeout(2000)  # the graph lays itself out
    operator.shot("asset-graph")
    chain = [
        "s3_log_download",
        "edx_tracking_landing",
        "tracking_logs_master_load",
        "tracking_logs_master",
        "course_tracking_extraction",
        "edx_course_tracking",
        "course_kpis",
        "edx_course_kpis",
    ]
    graph = page.get_by_role("application").or_(page.locator(".react-flow")).first
    positions = []
    for name in chain:
        node = graph.get_by_text(name, exact=True).first
        expect(node).to_be_visible()
        positions.append(node.bounding_box()["x"])
    assert positions == sorted(positions) and len(set(positions)) == len(chain), list(
        zip(chain, positions, strict=True)
    )
