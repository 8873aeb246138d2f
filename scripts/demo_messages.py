"""The message export's part of ``make run``: which run the demo makes, and its summary read back from S3.

The demo's platform data (``python -m scripts.demo_data messages``: 30 days from 1 March 2024)
ends with 30 March, so the demo runs ``message_analytics_export`` for logical date 2024-03-31
with ``time_range`` ``7D``: the seven whole days 24..30 March. :func:`summarize_message_export`
reads each app's ``analytics`` file back from the bucket (not the run's claims) and prints the
metrics side by side. ``scripts/run_demo.py`` adds the run with :data:`MESSAGES_DAG_ID`,
:data:`MESSAGES_LOGICAL_DATE`, :data:`MESSAGES_CONF` and this summary.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO / "plugins"))

MESSAGES_DAG_ID = "message_analytics_export"
MESSAGES_LOGICAL_DATE = "2024-03-31"  # data interval 30 March; 7D: 24..30 March, the demo's last week
MESSAGES_CONF: dict = {"time_range": "7D"}


def analytics_keys(client: Any, bucket: str, prefix: str) -> list[str]:
    """The analytics files of the demo's range, one per app, sorted."""
    import pendulum

    from analytics.messages.ranges import resolve_range

    end = pendulum.parse(MESSAGES_LOGICAL_DATE)
    label = resolve_range(MESSAGES_CONF["time_range"], "", "", end, end, "UTC").label
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        keys += [entry["Key"] for entry in page.get("Contents", []) if f"/{label}/analytics." in entry["Key"]]
    return sorted(keys)


def summarize_message_export(log_path: Path) -> list[str]:
    """Each app's analytics table of the demo's last 7 days, read back from S3, apps side by side."""
    import pandas as pd

    from analytics.messages.config import load_messages_config
    from analytics.messages.formats import table_format
    from analytics.stores.s3 import S3Store

    config = load_messages_config()
    # The provider logs "credentials retrieved" on stdout when the hook connects: not a summary line.
    with contextlib.redirect_stdout(io.StringIO()), S3Store(config.aws_connection_id) as store:
        client = store.hook.get_conn()
        keys = analytics_keys(client, config.bucket, config.key_prefix)
        if not keys:
            return [f"no analytics file under s3://{config.bucket}/{config.key_prefix}/ (see {log_path})"]
        frames = []
        for key in keys:
            body = client.get_object(Bucket=config.bucket, Key=key)["Body"].read()
            frames.append(pd.read_csv(io.BytesIO(body), sep=table_format(key.rsplit("/", 1)[1])))
    table = pd.concat(frames).pivot(index="metric", columns="app_id", values="count")
    table = table.reindex(frames[0]["metric"])
    first = frames[0].iloc[0]
    return [
        f"s3://{config.bucket}/{keys[0].rsplit('/', 3)[0]}/<app>/...: {first['start']} .. {first['end']} (end excluded)",
        *("    " + line for line in table.to_string().splitlines()),
    ]
