"""Run every DAG on the local demo stack, in dependency order, and print what it produced.

``make run`` calls this after starting the stack and generating the demo data. Each DAG runs
in-process with ``airflow dags test`` and the conf it needs; the summary at the end is read
back from the stores themselves (not from the DAGs' own claims): what was loaded where, how
many, and what was rejected and why, and, for the weekly views the daily DAG asked for, the
run Airflow's metadata database holds. Each run's log is ``.local/logs/demo/<dag_id>__<logical
date>.log``. Resetting the analytics database is refused unless the environment is the demo
stack's and the database is on this machine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO / "plugins"))

from analytics.connections import MONGO_DEFAULT, POSTGRES_ANALYTICS  # noqa: E402
from analytics.database_target import DatabaseTarget  # noqa: E402

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from scripts.demo_bi import BI_CONF, BI_DAG_ID, BI_LOGICAL_DATE, summarize_bi_aggregation  # noqa: E402
from scripts.demo_messages import (  # noqa: E402
    MESSAGES_CONF,
    MESSAGES_DAG_ID,
    MESSAGES_LOGICAL_DATE,
    summarize_message_export,
)

AIRFLOW = str(REPO / ".venv" / "bin" / "airflow")


@dataclass
class DemoRun:
    """One DAG run of the demo: which DAG, for which logical date, with which conf."""

    dag_id: str
    logical_date: str
    conf: dict = field(default_factory=dict)
    summarize: Callable[[Path], list[str]] | None = None  # given the run's log file


DEMO_PROFILE = "demo"
WEEKLY_VIEWS_DAG_ID = "engagement_weekly_views"
# Where s3_log_download puts the demo's logs and tracking_logs_master_load reads them: the demo
# stack's root is always .local (scripts/stack.py), and this folder is only ever a copy of S3.
DEMO_LANDING_DIR = REPO / ".local" / "demo-data" / "landing"
DEMO_REPORT_DIR = REPO / ".local" / "demo-data" / "reports"  # course_kpis' HTML reports
DEMO_FIRST_DAY = "2024-03-04"  # the generator's --start-date: the download takes every demo day


def log_file_name(run: DemoRun) -> str:
    """One log per run: the eight daily runs of the same DAG do not overwrite each other."""
    return f"{run.dag_id}__{run.logical_date}.log"


def demo_data_dir() -> Path:
    return Path(os.environ["ANALYTICS_LOCAL_DIR"]) / "demo-data"


def summarize_course_ingestion(log_path: Path) -> list[str]:
    from analytics.edx.discovery import discover_package
    from analytics.edx.ingestion import COURSE_COLLECTIONS, ERRORS_COLLECTION, STATUS_COLLECTION, STATUS_ID
    from analytics.edx.naming import course_database_name
    from analytics.edx.tables import collection_for_table
    from analytics.stores.mongo import mongo_client

    inventory = discover_package(demo_data_dir() / "package")
    lines = []
    with mongo_client(MONGO_DEFAULT) as client:
        for course in inventory.courses:
            database = client[course_database_name(course.course)]
            counts = ", ".join(f"{name} {database[name].count_documents({})}" for name in COURSE_COLLECTIONS)
            status = database[STATUS_COLLECTION].find_one({"_id": STATUS_ID}) or {}
            lines.append(
                f"{course.course.course_id} -> MongoDB database '{database.name}' "
                f"({status.get('state', 'missing')}): {counts}"
            )
            for collection, reason in sorted((status.get("kept") or {}).items()):
                lines.append(f"    kept {collection} as it was: {reason}")
            for column, values in sorted((status.get("dropped_columns") or {}).items()):
                lines.append(f"    credential column {column} not stored ({values} values dropped)")
            reasons: dict[str, int] = {}
            for error in database[ERRORS_COLLECTION].find({}, {"reason": 1}):
                reasons[error["reason"]] = reasons.get(error["reason"], 0) + 1
            rejected = ", ".join(f"{count} {reason}" for reason, count in reasons.items()) or "none"
            lines.append(f"    rejected: {rejected} (details in {database.name}.{ERRORS_COLLECTION})")
            skipped = [f.table for f in course.files if f.table and collection_for_table(f.table) is None]
            if skipped:
                lines.append(f"    skipped (tables not ingested): {', '.join(skipped)}")
    if inventory.ignored:
        lines.append(f"files ignored in the package: {', '.join(name for name, _ in inventory.ignored)}")
    return lines


S3_DOWNLOAD_COUNTS = re.compile(r"s3://\S+ -> \S+ \(from [\d-]+\): [^\n]*?refused")


def summarize_s3_download(log_path: Path) -> list[str]:
    """The bucket, the register and the landing directory, read back from S3, MongoDB and the disk."""
    from analytics.edx.s3_download import REGISTER_COLLECTION, load_s3_download_settings
    from analytics.edx.tracking_load import load_tracking_settings
    from analytics.stores.mongo import mongo_client
    from analytics.stores.s3 import S3Store

    settings = load_s3_download_settings()
    database_name = load_tracking_settings().master_database
    # The provider logs "credentials retrieved" on stdout when the hook connects: not a summary line.
    with contextlib.redirect_stdout(io.StringIO()), S3Store() as store:
        listed = list(store.list_objects(settings.bucket, settings.prefix))
    with mongo_client(MONGO_DEFAULT) as client:
        records = list(
            client[database_name][REGISTER_COLLECTION].find({"bucket": settings.bucket}).sort("key", 1)
        )
    lines = [
        f"s3://{settings.bucket}/{settings.prefix}: {len(listed)} objects, "
        f"{sum(item.size for item in listed):,} bytes (uploaded by scripts/demo_data/s3_upload.py)"
    ]
    counts = S3_DOWNLOAD_COUNTS.findall(log_path.read_text(errors="replace"))
    if counts:
        lines.append(f"the run logged: {counts[-1].split(': ', 1)[1]}")
    lines.append(f"{database_name}.{REGISTER_COLLECTION} (one record per key) and the landing directory:")
    for record in records:
        path = Path(record["path"])
        on_disk = f"{path.stat().st_size:,} bytes on disk" if path.is_file() else "MISSING on disk"
        lines.append(
            f"    {record['key']}: {record['size']:,} bytes, ETag {record['etag'][:12]}..., {record['how']} "
            f"-> {path.relative_to(REPO) if path.is_relative_to(REPO) else path} ({on_disk})"
        )
    return lines


def summarize_master_load(log_path: Path) -> list[str]:
    """The import records and the master collection, read back from MongoDB."""
    from analytics.edx.tracking_load import IMPORTED_COLLECTION, MASTER_COLLECTION, load_tracking_settings
    from analytics.stores.mongo import mongo_client

    database_name = load_tracking_settings().master_database
    with mongo_client(MONGO_DEFAULT) as client:
        database = client[database_name]
        records = list(database[IMPORTED_COLLECTION].find({}).sort("_id", 1))
        master = database[MASTER_COLLECTION]
        events = master.count_documents({})
        by_course = master.aggregate([{"$group": {"_id": "$course_id", "events": {"$sum": 1}}}])
        courses = sorted(((row["_id"] or "(no course)"), row["events"]) for row in by_course)
    lines = [f"{database_name}.{IMPORTED_COLLECTION} (one record per file):"]
    for record in records:
        reasons = ", ".join(
            f"{count} {reason}" for reason, count in record.get("discarded_by_reason", {}).items()
        )
        lines.append(
            f"    {record['_id']}: {record['status']}, {record.get('read', 0)} lines = "
            f"{record.get('loaded', 0)} loaded + {record.get('already_loaded', 0)} already loaded + "
            f"{record.get('discarded', 0)} discarded{f' ({reasons})' if reasons else ''}"
        )
    lines.append(f"{database_name}.{MASTER_COLLECTION}: {events} events; by course id:")
    lines += [f"    {course}: {count}" for course, count in courses]
    errors = sorted(path.name for path in DEMO_LANDING_DIR.glob("*-errors"))
    if errors:
        lines.append(
            f"discarded lines, with line number and reason: demo-data/landing/{{{','.join(errors)}}}"
        )
    return lines


def summarize_extraction(log_path: Path) -> list[str]:
    """Each course's extracted events and status, read back from its database."""
    from analytics.edx.course_configs import list_course_configs, parse_course_config
    from analytics.edx.extraction import STATUS_COLLECTION, STATUS_ID, TRACKING_COLLECTION
    from analytics.stores.mongo import mongo_client

    lines = []
    with mongo_client(MONGO_DEFAULT) as client:
        for path in list_course_configs(demo_data_dir() / "courses"):
            config = parse_course_config(path)
            database = client[config.database_name]
            tracking = database[TRACKING_COLLECTION]
            events = tracking.count_documents({})
            enriched = tracking.count_documents({"block.block_id": {"$exists": True}})
            status = database[STATUS_COLLECTION].find_one({"_id": STATUS_ID}) or {}
            start, end = config.window()
            lines.append(
                f"{config.edx_id} ({', '.join(config.course_ids)}, {start:%Y-%m-%d} .. {end:%Y-%m-%d} excluded) -> "
                f"{database.name}.{TRACKING_COLLECTION}: {events} events, {enriched} enriched with their block, "
                f"{events - enriched} pointing at no block ({status.get('state', 'no status')})"
            )
    return lines


def summarize_course_kpis(log_path: Path) -> list[str]:
    """Each course's KPIs of the whole course, read back from its status and collections."""
    from analytics.edx.course_configs import list_course_configs, parse_course_config
    from analytics.edx.kpi_collections import KPI_COLLECTIONS, read_status
    from analytics.edx.kpi_settings import resolve_range
    from analytics.stores.mongo import mongo_client

    lines = []
    with mongo_client(MONGO_DEFAULT) as client:
        for path in list_course_configs(demo_data_dir() / "courses"):
            config = parse_course_config(path)
            database = client[config.database_name]
            kpi_range = resolve_range(config, "", "")
            status = read_status(database, config.edx_id, kpi_range) or {}
            reasons = {
                reason: count for reason, count in (status.get("staff_by_reason") or {}).items() if count
            }
            rows = ", ".join(f"{name} {status.get('loaded', {}).get(name, 0)}" for name in KPI_COLLECTIONS)
            lines.append(
                f"{config.edx_id} ({kpi_range.from_date} .. {kpi_range.to_date}) -> {database.name} "
                f"({status.get('state', 'no status')}): {status.get('learners_counted', 0)} learners counted, "
                f"{status.get('staff_excluded', 0)} staff excluded" + (f" {reasons}" if reasons else "")
            )
            lines.append(f"    rows: {rows}")
            report = status.get("report_path")
            shown = Path(report).relative_to(REPO) if report and Path(report).is_relative_to(REPO) else report
            key = status.get("report_s3_key")
            lines.append(f"    report: {shown}" + (f" (S3 key {key})" if key else ""))
    return lines


def reset_tracking_master() -> None:
    """Drop the demo's master collection database, so each `make run` loads the logs again."""
    from analytics.edx.tracking_load import load_tracking_settings
    from analytics.stores.mongo import mongo_client

    if os.environ.get("ANALYTICS_STACK_PROFILE") != DEMO_PROFILE:
        raise SystemExit("refusing to reset the tracking master outside the demo stack (run `make run`)")
    with mongo_client(MONGO_DEFAULT) as client:
        client.drop_database(load_tracking_settings().master_database)
    for errors_file in (demo_data_dir() / "tracking").glob("*-errors"):
        errors_file.unlink()


def reset_landing_and_upload_logs() -> None:
    """Empty the demo's landing directory (a copy of S3) and put the demo's logs in the local S3."""
    if os.environ.get("ANALYTICS_STACK_PROFILE") != DEMO_PROFILE:
        raise SystemExit("refusing to reset the landing directory outside the demo stack (run `make run`)")
    DEMO_LANDING_DIR.mkdir(parents=True, exist_ok=True)
    for path in DEMO_LANDING_DIR.iterdir():
        if path.is_file():
            path.unlink()
    upload = [sys.executable, "-m", "scripts.demo_data.s3_upload", "--demo-dir", str(demo_data_dir())]
    result = subprocess.run(upload, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"uploading the demo's tracking logs failed:\n{result.stderr[-3000:]}")
    print(result.stdout.strip().splitlines()[-1], flush=True)


def analytics_connection():
    """One connection to the analytics database, for all the queries of one summary."""
    from analytics.stores.postgres import connect

    return connect(POSTGRES_ANALYTICS)


def postgres_rows(conn, query: str) -> list[tuple]:
    return conn.execute(query).fetchall()


# The daily ELT over one full week (26 Feb - 3 Mar 2024) and the Monday after it; `airflow dags
# test DAG D` runs the interval that ended last before D 00:00 UTC, i.e. the local day before D.
ENGAGEMENT_DAYS = [
    "2024-02-27",
    "2024-02-28",
    "2024-02-29",
    "2024-03-01",
    "2024-03-02",
    "2024-03-03",
    "2024-03-04",
    "2024-03-05",
]
ENGAGEMENT_WEEK = "2024-02-26"


BRANCH_LINE = re.compile(
    r"\d{4}-\d{2}-\d{2} is a \w+: (?:weekly views for the week of \d{4}-\d{2}-\d{2}"
    r"(?: not triggered \([^)]*\))?|no weekly views today)"
)


def branch_lines(log_path: Path) -> list[str]:
    """The branch decision the daily run logged ("<day> is a Monday: weekly views for the week of ...")."""
    return BRANCH_LINE.findall(log_path.read_text(errors="replace"))[:1]


def triggered_weekly_runs() -> list[tuple[str, str, str, dict]]:
    """The ``from_daily__`` runs of the weekly views, read back from Airflow's metadata database.

    (run_id, run type, state, conf); ``airflow dags list-runs`` does not show a run's conf.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(
            select(DagRun)
            .where(
                DagRun.dag_id == WEEKLY_VIEWS_DAG_ID,
                DagRun.run_id.startswith("from_daily__", autoescape=True),
            )
            .order_by(DagRun.run_id)
        ).all()
        return [(run.run_id, str(run.run_type), str(run.state), dict(run.conf or {})) for run in runs]


def summarize_engagement_daily(log_path: Path) -> list[str]:
    with analytics_connection() as conn:
        loaded = postgres_rows(
            conn,
            "SELECT day, count(*), count(agence), count(*) FILTER (WHERE structure IS NULL)"
            " FROM evenement_engagement GROUP BY day ORDER BY day",
        )
        copied = postgres_rows(
            conn,
            "SELECT 'agence', count(*) FROM agence UNION ALL SELECT 'conseiller', count(*) FROM conseiller"
            " UNION ALL SELECT 'jeune', count(*) FROM jeune UNION ALL SELECT 'feature_flip', count(*) FROM feature_flip",
        )
        logged_days = postgres_rows(
            conn, "SELECT count(*), count(enriched_at), min(day), max(day) FROM engagement_loaded_days"
        )
    lines = ["analytics.evenement_engagement, per local day (events / with geography / without structure):"]
    lines += [
        f"    {day}: {events:>6} / {located:>6} / {no_structure:>4}"
        for day, events, located, no_structure in loaded
    ]
    lines.append("copied from prod: " + ", ".join(f"{table} {count}" for table, count in copied))
    lines.append(
        "load log (engagement_loaded_days): {} day(s) loaded, {} enriched, {} .. {}".format(*logged_days[0])
    )
    lines += summarize_stale_weeks()
    lines += summarize_branch(log_path)
    expected_run_id = f"from_daily__{ENGAGEMENT_WEEK}"
    triggered = {run_id: rest for run_id, *rest in triggered_weekly_runs()}
    if expected_run_id in triggered:
        run_type, state, conf = triggered[expected_run_id]
        lines.append(
            f"Airflow's metadata DB: {WEEKLY_VIEWS_DAG_ID} run {expected_run_id} ({run_type}, {state}), "
            f"conf {json.dumps(conf)}"
        )
    else:
        lines.append(
            f"Airflow's metadata DB has no {WEEKLY_VIEWS_DAG_ID} run {expected_run_id}: nothing was triggered"
        )
    return lines


def summarize_weekly_views(log_path: Path) -> list[str]:
    from analytics.engagement.weekly_views import WEEKLY_VIEWS

    lines = [f"week of {ENGAGEMENT_WEEK}:"]
    with analytics_connection() as conn:
        for view in WEEKLY_VIEWS:
            count = postgres_rows(conn, f"SELECT count(*) FROM {view} WHERE week = '{ENGAGEMENT_WEEK}'")[0][0]
            lines.append(f"    {view}: {count} rows")
        national = postgres_rows(
            conn,
            "SELECT structure, type_utilisateur, utilisateurs_actifs_semaine, utilisateurs_1_mois"
            f" FROM analytics_engagement_national WHERE week = '{ENGAGEMENT_WEEK}' ORDER BY 1, 2",
        )
    lines.append("national (structure, user type): active this week / with an event in the last month")
    lines += [
        f"    {structure:<16} {kind:<10} {active:>5} / {month:>5}"
        for structure, kind, active, month in national
    ]
    lines += summarize_stale_weeks()
    return lines


def summarize_stale_weeks() -> list[str]:
    """The computed weeks and the stale ones, read back from analytics (engagement_computed_weeks, engagement_stale_weeks)."""
    from analytics.engagement.stale_weeks import stale_weeks

    with analytics_connection() as conn:
        exists = postgres_rows(conn, "SELECT to_regclass('engagement_computed_weeks') IS NOT NULL")[0][0]
        computed = (
            postgres_rows(conn, "SELECT week, computed_at FROM engagement_computed_weeks ORDER BY week")
            if exists
            else []
        )
        stale = stale_weeks(conn)
    lines = [
        "computed weeks (engagement_computed_weeks): "
        + (", ".join(f"{week} at {at:%Y-%m-%d %H:%M:%S}" for week, at in computed) or "none yet")
    ]
    lines.append(
        "stale weeks (engagement_stale_weeks): " + (", ".join(str(week.week) for week in stale) or "none")
    )
    return lines


def summarize_branch(log_path: Path) -> list[str]:
    return [f"the run logged: {line}" for line in branch_lines(log_path)]


DEMO_RUNS = [
    DemoRun("edx_course_ingestion", "2024-03-04", {}, summarize_course_ingestion),
    DemoRun(
        "s3_log_download",
        "2024-03-09",
        {"landing_dir": str(DEMO_LANDING_DIR), "from_date": DEMO_FIRST_DAY},
        summarize_s3_download,
    ),
    DemoRun(
        "tracking_logs_master_load",
        "2024-03-09",
        {"landing_dir": str(DEMO_LANDING_DIR)},
        summarize_master_load,
    ),
    DemoRun("course_tracking_extraction", "2024-03-09", {}, summarize_extraction),
    DemoRun("course_kpis", "2024-03-09", {"report_dir": str(DEMO_REPORT_DIR)}, summarize_course_kpis),
    # Monday 26 February is the demo ELT's first day: the week before it was never loaded, so its
    # run loads the day without waiting for that week (param weekly_views).
    DemoRun("engagement_elt_daily", ENGAGEMENT_DAYS[0], {"weekly_views": False}, summarize_branch),
    *[DemoRun("engagement_elt_daily", day) for day in ENGAGEMENT_DAYS[1:-1]],
    DemoRun("engagement_elt_daily", ENGAGEMENT_DAYS[-1], {}, summarize_engagement_daily),
    DemoRun("engagement_weekly_views", "2024-03-04", {"from_week": ENGAGEMENT_WEEK}, summarize_weekly_views),
    # The demo application ends with December 2024: the run of 1 January 2025 computes it.
    DemoRun(BI_DAG_ID, BI_LOGICAL_DATE, BI_CONF, summarize_bi_aggregation),
    DemoRun(MESSAGES_DAG_ID, MESSAGES_LOGICAL_DATE, MESSAGES_CONF, summarize_message_export),
]


def check_demo_reset_target(profile: str | None, host: str | None) -> None:
    """Raise SystemExit unless the environment is the demo stack's and the database is on this machine."""
    if profile != DEMO_PROFILE:
        raise SystemExit(
            f"refusing to reset the analytics database: ANALYTICS_STACK_PROFILE is {profile!r}, not "
            f"{DEMO_PROFILE!r} (run the demo with `make run`, which loads .local/env)"
        )
    if not DatabaseTarget(host, None, "").is_local:
        raise SystemExit(
            f"refusing to reset the analytics database: {POSTGRES_ANALYTICS} points at host {host!r}, "
            f"not the local demo stack (a host on this machine)"
        )


def reset_analytics() -> None:
    """Empty the demo's analytics database (DROP SCHEMA public CASCADE), on the local demo stack only."""
    from analytics.stores.postgres import connect, target_of_connection

    with connect(POSTGRES_ANALYTICS, autocommit=True) as conn:
        # The host the connection reached, so a libpq default (PGHOST, a service file) is judged too.
        check_demo_reset_target(os.environ.get("ANALYTICS_STACK_PROFILE"), target_of_connection(conn).host)
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def dag_ids_in_folder() -> list[str]:
    return sorted(path.stem for path in (REPO / "dags").glob("*.py"))


def unpause_weekly_views() -> None:
    """The daily DAG's trigger fails when the weekly views are paused (fail_when_dag_is_paused).

    DAGs are paused when they first reach the metadata database: write them there (reserialize)
    and unpause the weekly views, as an operator does once in production.
    """
    for command in (["dags", "reserialize"], ["dags", "unpause", WEEKLY_VIEWS_DAG_ID]):
        subprocess.run([AIRFLOW, *command], check=True, capture_output=True, cwd=REPO)


def dag_test_command(
    dag_id: str, logical_date: str, conf: dict | None = None, *, airflow: str = AIRFLOW
) -> list[str]:
    """``airflow dags test`` of one DAG run, with its conf (the demo and the DAG tests both run this)."""
    command = [airflow, "dags", "test", dag_id, logical_date]
    if conf:
        command += ["-c", json.dumps(conf)]
    return command


DAG_RUN_FINISHED = re.compile(r"DagRun Finished: .*?state=(\w+)")
TASK_ERROR = "[DAG TEST] Error running task"


def dag_test_state(output: str, returncode: int) -> str:
    """The final state of an ``airflow dags test`` run, from its log and exit code.

    The state of the last ``DagRun Finished`` line, except that a run whose command failed or
    where a task errored outside its own code (e.g. the metadata database) is "failed", never
    "success". "failed" too when the run never finished and the command failed, else "unknown".
    """
    finished = DAG_RUN_FINISHED.findall(output)
    if not finished:
        return "failed" if returncode != 0 else "unknown"
    state = finished[-1]
    if state == "success" and (TASK_ERROR in output or returncode != 0):
        return "failed"
    return state


def run_dag(run: DemoRun, log_dir: Path) -> tuple[bool, float, Path]:
    log_path = log_dir / log_file_name(run)
    command = dag_test_command(run.dag_id, run.logical_date, run.conf)
    print(f"--> {' '.join(command[1:])}   (log: {log_path.relative_to(REPO)})", flush=True)
    started = time.monotonic()
    with open(log_path, "w") as log_file:
        result = subprocess.run(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO)
    ok = dag_test_state(log_path.read_text(errors="replace"), result.returncode) == "success"
    return ok, time.monotonic() - started, log_path


def main() -> int:
    log_dir = Path(os.environ["ANALYTICS_LOCAL_DIR"]) / "logs" / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    planned = {run.dag_id for run in DEMO_RUNS}
    print(
        "Resetting the demo's analytics database and tracking master, so each `make run` starts from "
        "the same state.",
        flush=True,
    )
    reset_analytics()
    reset_tracking_master()
    reset_landing_and_upload_logs()
    unpause_weekly_views()
    missing = [dag_id for dag_id in dag_ids_in_folder() if dag_id not in planned]
    mails_before = len(alert_mails())
    results = []
    for run in DEMO_RUNS:
        results.append((run, *run_dag(run, log_dir)))
    alerts = len(alert_mails()) - mails_before

    print("\n" + "=" * 78)
    print("analytics-dags demo: summary")
    print("=" * 78)
    failures = 0
    for run, ok, seconds, log_path in results:
        print(
            f"\n{run.dag_id}  [{'success' if ok else 'FAILED'} in {seconds:.0f}s, logical date {run.logical_date}]"
        )
        if not ok:
            failures += 1
            tail = log_path.read_text(errors="replace").splitlines()[-15:]
            print("    last log lines:\n" + "\n".join(f"      {line}" for line in tail))
            continue
        for line in run.summarize(log_path) if run.summarize else []:
            print(f"    {line}")
    if missing:
        print(f"\nDAGs without a demo run (add them to scripts/run_demo.py): {', '.join(missing)}")
    print(
        f"\n{len(results) - failures} of {len(results)} DAG runs succeeded. Logs: {log_dir.relative_to(REPO)}/"
    )
    mail_dir = alert_mail_dir()
    print(f"Failure alerts sent: {alerts} (the stack's SMTP server keeps them in {mail_dir}/new/).")
    print("Browse the runs with `make ui`.")
    return 1 if failures else 0


def alert_mail_dir() -> Path:
    """The demo stack's Maildir (scripts/stack.py's SMTP server, behind smtp_default)."""
    return Path(os.environ.get("ANALYTICS_LOCAL_DIR", REPO / ".local")) / "mail"


def alert_mails() -> list[str]:
    """The keys of the mails in the demo stack's Maildir (none when it does not exist yet)."""
    import mailbox

    if not alert_mail_dir().is_dir():
        return []
    return list(mailbox.Maildir(alert_mail_dir(), create=False).keys())


if __name__ == "__main__":
    sys.exit(main())
