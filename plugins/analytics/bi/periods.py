"""Months and quarters of the BI aggregation: labels, bounds, and which months a run computes. Pure.

A month is written ``"YYYY-MM"``, a quarter ``"YYYY-Qn"`` (Q1 = January to March). Their bounds are
half-open, ``[first day 00:00, first day of the next one 00:00)`` in the configured zone
(:data:`analytics.bi.config.BI_TIMEZONE`, UTC), so a submission at 00:00 on the 1st belongs to the
new month, and 23:59:59.999999 on the last day to the old one. Months are never taken from "now":
:func:`months_for_run` gives the months of the run's data interval (a scheduled or backfill run of
the monthly timetable: the month before the run), or the range ``from_month`` .. ``to_month`` of its
params (both included; ``to_month`` empty: ``from_month`` alone); a run with neither fails. A
quarter's churn is computed in the month that closes it (March, June, September, December),
against the quarter before. The snapshots of a run are "as of" the end of its last month. Calendar
maths with pendulum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import pendulum

MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
MONTH_PARAM_PATTERN = r"^(\d{4}-(0[1-9]|1[0-2]))?$"  # a month, or empty
_MONTH = re.compile(MONTH_PATTERN)
RUN_WITHOUT_MONTHS = (
    "this run has neither a data interval nor from_month: trigger it with a logical date (the run of "
    "1 April computes March) or with the params from_month (and to_month)"
)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"no month {self.month} in a year")

    @classmethod
    def parse(cls, label: str) -> Month:
        """``"2024-03"`` as a Month; ValueError for anything else."""
        if not isinstance(label, str) or not _MONTH.match(label):
            raise ValueError(f"{label!r} is not a month (YYYY-MM)")
        return cls(int(label[:4]), int(label[5:]))

    @classmethod
    def of(cls, moment: datetime, timezone: str) -> Month:
        """The month ``moment`` falls in, in ``timezone``."""
        local = pendulum.instance(moment).in_timezone(timezone)
        return cls(local.year, local.month)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __str__(self) -> str:
        return self.label

    def start(self, timezone: str) -> pendulum.DateTime:
        return pendulum.datetime(self.year, self.month, 1, tz=timezone)

    def end(self, timezone: str) -> pendulum.DateTime:
        """The first instant after the month: 00:00 on the 1st of the next month."""
        return self.start(timezone).add(months=1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def minus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)

    @property
    def quarter(self) -> Quarter:
        return Quarter(self.year, (self.month - 1) // 3 + 1)

    @property
    def closes_quarter(self) -> bool:
        return self.month % 3 == 0


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter (1: January to March ... 4: October to December)."""

    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"no quarter {self.number} in a year")

    @property
    def label(self) -> str:
        return f"{self.year:04d}-Q{self.number}"

    def __str__(self) -> str:
        return self.label

    @property
    def first_month(self) -> Month:
        return Month(self.year, 3 * self.number - 2)

    @property
    def last_month(self) -> Month:
        return Month(self.year, 3 * self.number)

    def start(self, timezone: str) -> pendulum.DateTime:
        return self.first_month.start(timezone)

    def end(self, timezone: str) -> pendulum.DateTime:
        return self.last_month.end(timezone)

    def previous(self) -> Quarter:
        return self.first_month.minus(1).quarter


def months_between(first: Month, last: Month) -> list[Month]:
    """``first`` .. ``last``, both included; ValueError when ``last`` is before ``first``."""
    if last < first:
        raise ValueError(f"to_month {last} is before from_month {first}")
    months = [first]
    while months[-1] < last:
        months.append(months[-1].next())
    return months


def months_of_interval(start: datetime, end: datetime, timezone: str) -> list[Month]:
    """The whole months of ``[start, end)``; ValueError unless both are month boundaries in ``timezone``."""
    first, after = Month.of(start, timezone), Month.of(end, timezone)
    if pendulum.instance(start) != first.start(timezone) or pendulum.instance(end) != after.start(timezone):
        raise ValueError(
            f"the data interval [{start}, {end}) is not whole months in {timezone}: "
            "this DAG's timetable gives one month per run"
        )
    if after <= first:
        raise ValueError(f"the data interval [{start}, {end}) holds no month")
    return months_between(first, after.minus(1))


def months_for_run(
    from_month: str | None,
    to_month: str | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
    timezone: str,
    max_months: int,
) -> list[Month]:
    """The months a run computes: its params' range when ``from_month`` is set, else its data interval's.

    ValueError (the message says what to give) for a ``to_month`` without ``from_month``, a range
    backwards or longer than ``max_months``, and a run with neither params nor data interval.
    """
    if from_month:
        months = months_between(Month.parse(from_month), Month.parse(to_month or from_month))
    elif to_month:
        raise ValueError("to_month is set without from_month: give from_month (to_month alone means nothing)")
    elif interval_start is None or interval_end is None:
        raise ValueError(RUN_WITHOUT_MONTHS)
    else:
        months = months_of_interval(interval_start, interval_end, timezone)
    if len(months) > max_months:
        raise ValueError(
            f"{len(months)} months ({months[0]} .. {months[-1]}) is more than max_months_per_run "
            f"({max_months}): split the range over several runs"
        )
    return months
