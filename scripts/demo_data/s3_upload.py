"""Put the demo's tracking logs in the local S3, where ``s3_log_download`` finds them: ``make run``
starts from there. The files are the daily logs the generator's ``manifest.json`` lists (its
``days``), uploaded unchanged to the bucket and prefix of ``include/config/s3_download.json``
through the project's one S3 adapter (``S3Store``, connection ``aws_default``), key = prefix +
file name; an object already there is replaced (same bytes, same ETag). It refuses to upload
unless ``aws_default`` points at this machine (the local stack's moto server), so demo files never
reach a real bucket. Run by ``scripts/run_demo.py``, or by hand:
``python -m scripts.demo_data.s3_upload --demo-dir .local/demo-data``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

# The package's __init__ has put plugins/ on sys.path: ``analytics`` imports.


def demo_tracking_logs(demo_dir: Path) -> list[Path]:
    """The daily tracking logs the manifest lists, oldest first."""
    manifest = json.loads((demo_dir / "manifest.json").read_text())
    return [demo_dir / entry["file"] for _, entry in sorted(manifest["days"].items())]


def check_local_endpoint(endpoint_url: str | None) -> None:
    """Raise SystemExit unless the S3 endpoint is on this machine (the local stack's moto)."""
    from analytics.database_target import LOCAL_HOST_NAMES

    host = urlsplit(endpoint_url or "").hostname
    if not endpoint_url or host not in LOCAL_HOST_NAMES:
        raise SystemExit(
            f"refusing to upload the demo's logs: aws_default's endpoint_url is {endpoint_url!r}, "
            "not the local stack's S3 (source .local/env, or run `make run`)"
        )


def upload_tracking_logs(demo_dir: Path, bucket: str | None = None, prefix: str | None = None) -> list[str]:
    """Upload the demo's logs to ``bucket``/``prefix`` (default: the download's configuration); returns the keys."""
    from analytics.edx.s3_download import load_s3_download_settings
    from analytics.stores.s3 import S3Store

    settings = load_s3_download_settings(bucket=bucket, prefix=prefix)
    keys = []
    with S3Store() as store:
        check_local_endpoint(store.hook.conn_config.endpoint_url)
        for path in demo_tracking_logs(demo_dir):
            uploaded = store.upload(path, settings.bucket, settings.prefix + path.name)
            keys.append(uploaded.key)
    return keys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.demo_data.s3_upload", description=__doc__)
    parser.add_argument(
        "--demo-dir", type=Path, default=Path(".local/demo-data"), help="the generator's --out"
    )
    parser.add_argument("--bucket", help="default: include/config/s3_download.json")
    parser.add_argument("--prefix", help="default: include/config/s3_download.json")
    arguments = parser.parse_args(argv)
    keys = upload_tracking_logs(arguments.demo_dir, arguments.bucket, arguments.prefix)
    print(f"Uploaded the demo's {len(keys)} tracking logs to the local S3: {', '.join(keys)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
