"""Which tracking-log files a run of ``tracking_logs_master_load`` loads, and in what order.

:func:`find_tracking_files` lists a landing directory: ``*.log.gz`` and plain ``*.log`` files (any
letter case), edX's ``{org}-edx-events-{YYYY-MM-DD}.log.gz`` or any other name. Never read as
input: files whose name ends in ``-errors`` (the loader's own error files), hidden files
(``.name``, such as a download still being written under a temporary name) and sub-directories.
Two files known by the same name (``x.log`` beside ``x.log.gz``) would share their events'
``_id``: both are left out, with the reason.

:func:`plan_files` (pure) compares what is there with the import records: a file is loaded when
it is new, not complete (a failed, partial or interrupted load), or named in ``reload_files``;
a complete file whose size or modification time changed is hashed again by the engine, and
reported as *changed* when its sha256 differs. Files are taken oldest first (the date in the
name, else the modification day), at most ``max_files`` per run; the rest wait for the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from analytics.core.accounting import COMPLETE
from analytics.edx.tracking_lines import tracking_file_name

TRACKING_SUFFIXES = (".log", ".log.gz")
ERRORS_SUFFIX = "-errors"
DEFAULT_MAX_FILES_PER_RUN = 200
_DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")

# Why a file is loaded in this run.
NEW, NOT_COMPLETE, RELOAD, CHANGED_SIZE = "new", "not complete", "reload requested", "size or time changed"


@dataclass(frozen=True)
class TrackingFile:
    """One input file: where it is, the name it is known by, and what identifies its version."""

    path: Path
    name: str
    size: int
    mtime_ns: int
    day: date

    @classmethod
    def at(cls, path: Path) -> TrackingFile:
        stat = path.stat()
        return cls(
            path=path,
            name=tracking_file_name(path.name),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
            day=day_of(path.name, stat.st_mtime_ns),
        )


def date_in_name(file_name: str) -> date | None:
    """The date in a file's name (``2024-03-04`` or ``20240304``, not part of a longer number), else None."""
    for match in _DAY_IN_NAME.finditer(file_name):
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
    return None


def day_of(file_name: str, mtime_ns: int) -> date:
    """The day a file holds: the date in its name, else its modification day (UTC)."""
    day = date_in_name(file_name)
    return day if day is not None else datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC).date()


def is_errors_file_name(file_name: str) -> bool:
    """True for an errors file (``x.log-errors``), also when named like input (``x-errors.log``)."""
    lower = file_name.lower()
    for suffix in (".gz", ".log"):
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
    return lower.endswith(ERRORS_SUFFIX)


def why_not_input(file_name: str) -> str | None:
    """None for a name the loader reads; else why not (see the module's docstring)."""
    if is_errors_file_name(file_name):
        return "an errors file"
    if not file_name.lower().endswith(TRACKING_SUFFIXES):
        return "not a tracking log (*.log, *.log.gz)"
    if file_name.startswith("."):
        return "a hidden file (a download still in progress?)"
    return None


def find_tracking_files(directory: Path) -> tuple[list[TrackingFile], list[tuple[str, str]]]:
    """The input files of ``directory``, oldest first, and the files left out with the reason."""
    ignored: list[tuple[str, str]] = []
    by_name: dict[str, list[TrackingFile]] = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        reason = why_not_input(path.name)
        if reason is not None:
            ignored.append((path.name, reason))
            continue
        found = TrackingFile.at(path)
        by_name.setdefault(found.name, []).append(found)
    files = []
    for name, versions in by_name.items():
        if len(versions) == 1:
            files.append(versions[0])
            continue
        names = " and ".join(version.path.name for version in versions)
        ignored.extend(
            (version.path.name, f"{names} are both known as {name}: keep one of them") for version in versions
        )
    return sorted(files, key=lambda found: (found.day, found.name)), ignored


@dataclass
class Plan:
    """What one run loads (oldest first), and everything it leaves alone, with the reason."""

    to_load: list[tuple[TrackingFile, str]] = field(default_factory=list)
    to_check: list[TrackingFile] = field(default_factory=list)  # complete, but size or time changed
    complete: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # beyond max_files: the next run's


def plan_files(
    files: Iterable[TrackingFile],
    imported: Mapping[str, Mapping[str, Any]],
    reload_files: Iterable[str] = (),
    max_files: int = DEFAULT_MAX_FILES_PER_RUN,
) -> Plan:
    """Sort the files of a landing directory into load, check (hash again), complete and deferred.

    ``imported`` maps a file's name to its import record. ``reload_files`` holds names (any case,
    ``.gz`` or not); a name that matches no file is a ValueError, so a typo is not a silent no-op.
    """
    if max_files < 1:
        raise ValueError(f"max_files_per_run must be at least 1, not {max_files}")
    files = list(files)
    reload = {tracking_file_name(name): name for name in reload_files}
    unknown = sorted(original for name, original in reload.items() if name not in {f.name for f in files})
    if unknown:
        raise ValueError(
            f"reload_files names no file of the landing directory: {', '.join(unknown)} "
            "(give the file names, e.g. edx-edx-events-2024-03-04.log.gz)"
        )
    plan = Plan()
    candidates: list[tuple[TrackingFile, str]] = []
    for found in files:
        record = imported.get(found.name)
        if found.name in reload:
            candidates.append((found, RELOAD))
        elif record is None:
            candidates.append((found, NEW))
        elif record.get("status") != COMPLETE:
            candidates.append((found, f"{NOT_COMPLETE} ({record.get('status')})"))
        elif record.get("size") != found.size or record.get("mtime_ns") != found.mtime_ns:
            plan.to_check.append(found)
        else:
            plan.complete.append(found.name)
    plan.to_load = candidates[:max_files]
    plan.deferred = [found.name for found, _ in candidates[max_files:]]
    return plan
