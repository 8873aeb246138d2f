"""The pure rules of s3_log_download: which keys a run keeps, downloads, leaves or refuses, and from when."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from analytics.core.config import ConfigError
from analytics.edx.s3_download import (
    ALREADY_THERE,
    CHANGED,
    FAILED,
    LOCAL_FILE_CHANGED,
    LOCAL_FILE_MISSING,
    NEW,
    RESTORED,
    DownloadSummary,
    KeyDownload,
    LocalFile,
    date_in_name,
    landing_name,
    load_s3_download_settings,
    plan_downloads,
    resolve_from_date,
    summary_line,
)
from analytics.stores.s3 import S3Object

BUCKET = "logs-bucket"
LANDING = Path("/data/landing")
FROM = date(2024, 3, 3)
WHEN = datetime(2024, 3, 5, 1, 2, tzinfo=UTC)


def listed(key: str, size: int = 100, etag: str = "e1") -> S3Object:
    return S3Object(bucket=BUCKET, key=key, size=size, etag=etag, last_modified=WHEN)


def record(
    key: str, size: int = 100, etag: str = "e1", local=(100, 7), bucket: str = BUCKET, **extra
) -> dict:
    """A register record as download_key writes it, for a file of ``local`` (size, mtime_ns)."""
    name = key.rsplit("/", 1)[-1]
    return {
        "_id": f"s3://{bucket}/{key}",
        "bucket": bucket,
        "key": key,
        "etag": etag,
        "size": size,
        "path": str(LANDING / name),
        "local_size": local[0],
        "local_mtime_ns": local[1],
        "downloaded_at": WHEN,
        **extra,
    }


def plan(objects, register=(), local=None, from_date: date = FROM):
    return plan_downloads(
        objects, register, local or {}, bucket=BUCKET, prefix="", landing=LANDING, from_date=from_date
    )


def to_download(result) -> dict[str, str]:
    return {entry["key"]: entry["reason"] for entry in result.to_download}


# ---------------------------------------------------------------- names and dates


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DemoOrgX-edx-events-2024-03-04.log.gz", date(2024, 3, 4)),
        ("edx.log-20240304.gz", date(2024, 3, 4)),
        ("tracking.log", None),
        ("x-2024-13-45.log", None),  # not a date: no date in the name
        ("x-2024-13-45-2024-03-01.log", date(2024, 3, 1)),  # the first real date
        ("app-1234567890.log", None),  # digits that are not a date on their own
    ],
)
def test_the_date_in_a_name_is_read_as_the_master_load_reads_it(name, expected):
    assert date_in_name(name) == expected


def test_a_key_lands_under_its_base_name():
    assert landing_name("a/b/c.log.gz") == "c.log.gz"
    assert landing_name("c.log") == "c.log"


def test_from_date_is_the_param_else_the_interval_start_minus_the_lookback():
    assert resolve_from_date("2024-03-01", None, 2) == date(2024, 3, 1)
    start = datetime(2024, 3, 9, 3, 0, tzinfo=UTC)
    assert resolve_from_date("", start, 2) == date(2024, 3, 7)
    assert resolve_from_date(None, start, 0) == date(2024, 3, 9)
    # The interval's start as a UTC day: 00:30 in Paris is still the 8th in UTC.
    paris = datetime(2024, 3, 9, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert resolve_from_date("", paris, 2) == date(2024, 3, 6)


def test_a_run_without_a_data_interval_must_give_from_date():
    with pytest.raises(ValueError, match="no data interval.*give from_date"):
        resolve_from_date("", None, 2)


@pytest.mark.parametrize("text", ["2024-3-4", "20240304", "2024-02-30", "yesterday", "2024-03-04T00:00"])
def test_from_date_must_be_a_real_yyyy_mm_dd(text):
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        resolve_from_date(text, datetime(2024, 3, 9, tzinfo=UTC), 2)


# ---------------------------------------------------------------- what is kept


def test_only_tracking_logs_on_or_after_from_date_are_kept_and_undated_ones_too():
    result = plan(
        [
            listed("exports/a.csv"),
            listed("logs/"),  # a "folder" key
            listed("logs/.x-2024-03-04.log.gz"),  # hidden: the master load would never read it
            listed("logs/x-2024-03-04.log-errors"),
            listed("logs/x-2024-03-01.log.gz"),
            listed("logs/x-2024-03-02.log"),
            listed("logs/x-2024-03-03.log.gz"),  # from_date itself is kept
            listed("logs/x-20240304.LOG.GZ"),
            listed("logs/tracking.log"),  # no date: kept
        ]
    )
    assert (result.listed, result.not_tracking_logs, result.before_from_date, result.kept) == (9, 4, 2, 3)
    assert to_download(result) == {
        "logs/x-2024-03-03.log.gz": NEW,
        "logs/x-20240304.LOG.GZ": NEW,
        "logs/tracking.log": NEW,
    }
    assert result.examples["not a tracking log"][0] == "exports/a.csv"
    assert result.to_download[0] == {
        "key": "logs/x-2024-03-03.log.gz",
        "name": "x-2024-03-03.log.gz",
        "reason": NEW,
        "size": 100,
        "etag": "e1",
    }


# ---------------------------------------------------------------- register and landing directory


def test_a_registered_key_whose_file_is_there_is_already_there():
    result = plan([listed("a.log.gz")], [record("a.log.gz")], {"a.log.gz": LocalFile(100, 7)})
    assert result.to_download == [] and result.already_there == 1


@pytest.mark.parametrize(
    ("register", "local", "reason"),
    [
        ([], {}, NEW),
        ([], {"a.log.gz": LocalFile(100, 7)}, NEW),  # a file the register does not know of: S3Store checks it
        ([record("a.log.gz", etag="e0")], {"a.log.gz": LocalFile(100, 7)}, CHANGED),
        ([record("a.log.gz", size=99)], {"a.log.gz": LocalFile(100, 7)}, CHANGED),
        ([record("a.log.gz")], {}, LOCAL_FILE_MISSING),  # the "skip if it exists" check: it does not
        ([record("a.log.gz")], {"a.log.gz": LocalFile(100, 8)}, LOCAL_FILE_CHANGED),
        ([record("a.log.gz")], {"a.log.gz": LocalFile(50, 7)}, LOCAL_FILE_CHANGED),
        (
            [record("a.log.gz", path="/elsewhere/a.log.gz")],
            {"a.log.gz": LocalFile(100, 7)},
            LOCAL_FILE_CHANGED,
        ),
        ([record("a.log.gz", bucket="other")], {}, NEW),  # the same key in another bucket is another object
    ],
)
def test_why_a_key_is_downloaded(register, local, reason):
    result = plan([listed("a.log.gz")], register, local)
    assert to_download(result) == {"a.log.gz": reason}
    assert result.already_there == 0


def test_keys_that_land_as_one_file_are_all_refused():
    result = plan(
        [
            listed("a/x-2024-03-04.log.gz"),
            listed("b/x-2024-03-04.log.gz"),
            listed("c/y.log"),
            listed("d/Y.log.gz"),  # the master load knows both as y.log
            listed("e/z.log"),
        ]
    )
    reasons = {entry["key"]: entry["reason"] for entry in result.refused}
    assert sorted(reasons) == ["a/x-2024-03-04.log.gz", "b/x-2024-03-04.log.gz", "c/y.log", "d/Y.log.gz"]
    assert reasons["a/x-2024-03-04.log.gz"] == (
        "would overwrite b/x-2024-03-04.log.gz in the landing directory (both land as x-2024-03-04.log.gz): "
        "none is downloaded"
    )
    assert "knows by the same name (y.log) as d/Y.log.gz" in reasons["c/y.log"]
    assert to_download(result) == {"e/z.log": NEW}


def test_a_file_that_holds_another_keys_download_is_not_overwritten():
    holder = record("old/z.log")
    result = plan([listed("new/z.log")], [holder], {"z.log": LocalFile(100, 7)})
    assert result.to_download == []
    assert result.refused == [
        {
            "key": "new/z.log",
            "reason": f"z.log in the landing directory holds s3://{BUCKET}/old/z.log "
            "(registered 2024-03-05 01:02 UTC): not overwritten",
        }
    ]
    # Another bucket's download in the same landing directory is protected too.
    result = plan([listed("z.log")], [record("z.log", bucket="other")], {"z.log": LocalFile(100, 7)})
    assert "holds s3://other/z.log" in result.refused[0]["reason"]
    # Once the file is gone, the path is free.
    assert to_download(plan([listed("new/z.log")], [holder], {})) == {"new/z.log": NEW}


# ---------------------------------------------------------------- summary and settings


def test_the_summary_counts_each_outcome():
    summary = DownloadSummary(bucket=BUCKET, prefix="p/", landing_dir="/l", from_date="2024-03-03")
    summary.listed, summary.kept, summary.already_there = 9, 6, 1
    for outcome in (NEW, NEW, CHANGED, RESTORED, ALREADY_THERE):
        summary.add(KeyDownload(f"p/{outcome}.log", f"{outcome}.log", NEW, outcome, size=10))
    summary.add(KeyDownload("p/bad.log", "bad.log", NEW, FAILED, failure="S3DownloadError: received 5 of 10"))
    assert (summary.new, summary.changed, summary.restored, summary.already_there) == (2, 1, 1, 2)
    assert summary.downloaded_count == 4 and summary.bytes_downloaded == 40
    assert summary.failed == [{"key": "p/bad.log", "reason": "S3DownloadError: received 5 of 10"}]
    assert summary_line(summary.as_dict()) == (
        "s3://logs-bucket/p/ -> /l (from 2024-03-03): 9 listed, 6 kept (0 before from_date, 0 not tracking logs), "
        "2 new, 1 changed, 1 restored, 2 already there, 1 failed, 0 refused"
    )


def test_the_settings_come_from_the_configuration_with_params_over_them(tmp_path):
    from analytics.edx.s3_download import CONFIG_FILE

    shipped = load_s3_download_settings()
    assert (shipped.bucket, shipped.prefix, shipped.lookback_days) == ("edx-tracking-logs", "", 2)
    assert CONFIG_FILE.name == "s3_download.json"
    config = tmp_path / "s3_download.json"
    config.write_text('{"bucket": "b", "prefix": "logs/", "lookback_days": 3}')
    assert load_s3_download_settings(config, bucket="", prefix=None).bucket == "b"  # empty params: the file's
    assert load_s3_download_settings(config, bucket="mine").bucket == "mine"
    config.write_text('{"bucket": "b", "lookback_days": "2"}')
    with pytest.raises(ConfigError, match="key 'lookback_days': expected int"):
        load_s3_download_settings(config)
    config.write_text('{"bucket": ""}')
    with pytest.raises(ValueError, match="bucket must not be empty"):
        load_s3_download_settings(config)
