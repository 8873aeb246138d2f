"""The one progress logger: items done, rate and, when the total is known, percentage and ETA.

Long tasks call :meth:`Progress.advance` as they go; a line is logged at most every
``every_seconds`` (and always by :meth:`Progress.finish`), so an operator watching the task
log sees how far it is and when it should end, whatever the size of the input. The clock is
injectable so the arithmetic is tested without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_EVERY_SECONDS = 10.0


def rate(items: int, seconds: float) -> float:
    """Items per second, rounded to 0.1; 0 when no time has passed."""
    return round(items / seconds, 1) if seconds > 0 else 0.0


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``2h07m``: short enough for a log line."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class Progress:
    """How far one job is: ``done`` of ``total`` (None when unknown) ``unit``, logged every few seconds.

    ``extra`` is called for each line and its text appended (for example "12 rejected").
    """

    label: str
    total: int | None = None
    unit: str = "records"
    every_seconds: float = DEFAULT_EVERY_SECONDS
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("analytics.progress"))
    clock: Callable[[], float] = time.monotonic
    extra: Callable[[], str] | None = None
    done: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()
        self._last_logged = self.started

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def advance(self, items: int = 1) -> None:
        """Count ``items`` more done; log a line when ``every_seconds`` have passed since the last one."""
        self.done += items
        now = self.clock()
        if now - self._last_logged >= self.every_seconds:
            self._last_logged = now
            self.logger.info("%s", self.line())

    def line(self) -> str:
        """``label: 1,200 of 5,000 records (24.0 %), 300.0 records/s, 4s elapsed, ETA 13s``."""
        elapsed = self.elapsed
        speed = rate(self.done, elapsed)
        if self.total:
            share = 100.0 * self.done / self.total
            text = f"{self.label}: {self.done:,} of {self.total:,} {self.unit} ({share:.1f} %)"
        else:
            text = f"{self.label}: {self.done:,} {self.unit}"
        text += f", {speed:,.1f} {self.unit}/s, {format_duration(elapsed)} elapsed"
        eta = self.eta_seconds()
        if eta is not None:
            text += f", ETA {format_duration(eta)}"
        if self.extra is not None:
            text += f"; {self.extra()}"
        return text

    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far; None when the total is unknown or nothing is done yet."""
        if not self.total or self.done <= 0:
            return None
        remaining = max(self.total - self.done, 0)
        return remaining * self.elapsed / self.done

    def finish(self, outcome: str = "") -> float:
        """Log the final line (``done`` in total, rate, time) and return the seconds taken."""
        elapsed = self.elapsed
        text = (
            f"{self.label}: done, {self.done:,} {self.unit} in {format_duration(elapsed)} "
            f"({rate(self.done, elapsed):,.1f} {self.unit}/s)"
        )
        if self.extra is not None:
            text += f"; {self.extra()}"
        if outcome:
            text += f"; {outcome}"
        self.logger.info("%s", text)
        return elapsed
