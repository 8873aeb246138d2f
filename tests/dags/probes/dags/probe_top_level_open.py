"""Probe: files read and listed at parse time: open(), Path.read_text(), glob, os.listdir.

Never imported: tests/dags/test_dag_integrity.py parses it to prove the parse-time I/O check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from airflow.sdk import dag, task

HERE = Path(__file__).parent
with open(HERE / "courses.json") as handle:  # expect io: open
    COURSES = json.load(handle)
QUERY = Path(__file__).with_name("query.sql").read_text()  # expect io: Path(...).with_name(...).read_text
REPORTS = os.listdir("/data/reports")  # expect io: os.listdir

if __name__ == "__main__":
    print(open(HERE / "notes.txt").read())


@dag(schedule=None, tags=["manual"])
def probe_top_level_open():
    @task
    def count(path: str) -> int:
        """Runs in a worker: reading files here is right."""
        return len(Path(path).read_text())

    for path in sorted(HERE.glob("*.sql")):  # expect io: HERE.glob
        count.override(task_id=f"count_{path.stem}")(str(path))
    count.override(task_id="count_courses")((HERE / "courses.json").read_text())  # expect io: (...).read_text
    count.expand(path=[QUERY, *REPORTS, *COURSES])


probe_top_level_open()
