"""Accounting for every load: read = loaded + rejected, by named reason, and what a run's status says.

Every loader reads records (rows, lines, blocks) and accounts for each one: loaded, or rejected
under a short, stable reason (``"wrong field count"``, ``"bad JSON"``) with the file, line and
field at fault and an excerpt of the raw input. :class:`FileAccount` keeps one file's counts and
decides whether the file counts as *rejected whole* (a file-level fault such as an unreadable
header, or a rejected share above the threshold): such a file must not replace what readers had.
:class:`RejectionLog` logs the first rejections of each file and hands every one to a writer as
an error record. The per-run status (``running``, ``complete``, ``partial``, ``failed``) is built
by :func:`status_document`. Pure: no I/O, no Airflow; stores write what this module builds.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

RUNNING, COMPLETE, PARTIAL, FAILED = "running", "complete", "partial", "failed"
STATES = (RUNNING, COMPLETE, PARTIAL, FAILED)
DEFAULT_REJECTION_THRESHOLD = 0.05  # a file with more than 5 % of its records rejected is rejected whole
EXCERPT_CHARS = 200
REJECTIONS_LOGGED_PER_FILE = 20

# A file's outcome in the status document.
REPLACED = "replaced"  # its records replaced the collection
REJECTED_WHOLE = "rejected whole"  # the previous contents were kept
KEPT = "kept"  # no file this time: the previous contents were kept


def excerpt(raw: bytes | str | None, limit: int = EXCERPT_CHARS) -> str | None:
    """The first ``limit`` characters of a raw input record (bytes decoded leniently), or None."""
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True)
class Rejection:
    """One input record (line, row, block) or a whole file that was not loaded, and why.

    ``reason`` is a short, stable name used as a counter key in summaries; ``detail`` says what
    exactly was wrong; ``excerpt`` holds the start of the raw record. ``whole_file`` marks a
    fault that stops the whole file from being read (no header, 0 bytes, duplicate columns):
    such a file never replaces a collection. ``quality_only`` marks a finding about data that
    was loaded (a course block naming a child that does not exist): it is counted and stored
    like any rejection, but no record was lost, so it does not count towards the threshold.
    """

    file: str
    line: int | None
    reason: str
    field: str | None = None
    detail: str = ""
    excerpt: str | None = None
    whole_file: bool = False
    quality_only: bool = False

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = self.reason if self.field is None else f"field '{self.field}': {self.reason}"
        return f"{where}: {what}" + (f" ({self.detail})" if self.detail else "")

    def as_record(self, rank: int, **context: Any) -> dict[str, Any]:
        """The error record stored for this rejection; ``_id`` is ``<file>#<rank>`` (stable for the same input)."""
        return {"_id": f"{self.file}#{rank}", **context, **asdict(self), "message": str(self)}


@dataclass
class FileAccount:
    """One file's records: ``read`` = ``loaded`` + ``rejected``, rejections counted by reason.

    ``whole_file_reason`` is set when the file is rejected whole (see :meth:`judge`).
    """

    file: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    whole_file_reason: str | None = None
    quality_only: int = 0  # rejections that lost no record (see Rejection.quality_only)

    def reject(self, rejection: Rejection) -> None:
        self.rejected += 1
        self.quality_only += rejection.quality_only
        self.by_reason[rejection.reason] += 1
        if rejection.whole_file and self.whole_file_reason is None:
            self.whole_file_reason = str(rejection)

    @property
    def balanced(self) -> bool:
        """True when every record read is loaded or rejected."""
        return self.read == self.loaded + self.rejected

    @property
    def rejected_share(self) -> float:
        """The share of records read that were lost (rejections of quality only left out)."""
        return (self.rejected - self.quality_only) / self.read if self.read else 0.0

    def judge(self, threshold: float) -> str | None:
        """Decide, once the file is read, whether it is rejected whole; returns the reason, or None.

        Rejected whole: a file-level fault, or more than ``threshold`` (a share, 0.05 for 5 %) of
        its records rejected. A header-only file (nothing read) is a real empty table.
        """
        if self.whole_file_reason is None and self.rejected_share > threshold:
            self.whole_file_reason = (
                f"{self.rejected - self.quality_only} of {self.read} records rejected "
                f"({100 * self.rejected_share:.1f} %), "
                f"more than the threshold of {100 * threshold:g} %"
            )
        return self.whole_file_reason

    @property
    def outcome(self) -> str:
        return REJECTED_WHOLE if self.whole_file_reason else REPLACED

    def as_record(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "read": self.read,
            "loaded": self.loaded,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.by_reason.most_common()),
            "outcome": self.outcome,
            "reason": self.whole_file_reason,
        }


def check_threshold(value: float) -> float:
    """A rejection threshold as a share in ``[0, 1]``; ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"rejection threshold must be a share between 0 and 1 (0.05 for 5 %), not {value!r}")
    return float(value)


class RejectionLog:
    """Counts rejections by reason, logs the first few of each file, and passes every one to ``write``.

    ``write`` gets the error record (see :meth:`Rejection.as_record`, with ``context`` added);
    the rank in each record's ``_id`` is the rejection's position among its file's rejections,
    which the same input always gives in the same order, so a rerun stores the same records.
    """

    def __init__(
        self,
        write: Callable[[dict[str, Any]], None],
        logger: logging.Logger,
        where: str,
        context: Mapping[str, Any] | None = None,
        logged_per_file: int = REJECTIONS_LOGGED_PER_FILE,
    ) -> None:
        self.write = write
        self.logger = logger
        self.where = where
        self.context = dict(context or {})
        self.logged_per_file = logged_per_file
        self.by_reason: Counter[str] = Counter()
        self._per_file: Counter[str] = Counter()

    def record(self, rejection: Rejection) -> None:
        self.by_reason[rejection.reason] += 1
        self._per_file[rejection.file] += 1
        rank = self._per_file[rejection.file]
        if rank <= self.logged_per_file:
            self.logger.warning("rejected %s", rejection)
        elif rank == self.logged_per_file + 1:
            self.logger.warning(
                "%s: more rejections in this file; all are stored in %s", rejection.file, self.where
            )
        self.write(rejection.as_record(rank, **self.context))


def overall_state(files: Mapping[str, FileAccount], kept: Mapping[str, str]) -> str:
    """``partial`` when a file was rejected whole or a collection was kept from before, else ``complete``."""
    if kept or any(account.whole_file_reason for account in files.values()):
        return PARTIAL
    return COMPLETE


def status_document(
    *,
    state: str,
    started_at: Any,
    finished_at: Any,
    files: Mapping[str, FileAccount],
    loaded: Mapping[str, int],
    kept: Mapping[str, str] | None = None,
    error: str | None = None,
    **identity: Any,
) -> dict[str, Any]:
    """The status record of one run: its state, times, counts per target and per file, and what was kept.

    ``identity`` names what the run loaded (course id, package folder, run id...). ``kept`` maps
    a target (collection) whose previous contents were kept to why.
    """
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    rejected: Counter[str] = Counter()
    for account in files.values():
        rejected.update(account.by_reason)
    return {
        **identity,
        "state": state,
        "started_at": started_at,
        "finished_at": finished_at,
        "loaded": dict(loaded),
        "rejected": dict(rejected.most_common()),
        "files": [files[name].as_record() for name in sorted(files)],
        "kept": dict(kept or {}),
        "error": error,
    }
