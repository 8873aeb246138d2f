"""The daily tracking logs of the edX demo data (``tracking/<org>-edx-events-<day>.log.gz``): one
gzip file per day, its events streamed in time order as they are made (so memory stays bounded
whatever ``--events-per-day`` is), with about one deliberately broken line in 500 (cut short, or
with bytes that are not UTF-8) and every kind at least once on a day with enough events; each
day's events are counted by kind, source and course for the manifest."""

from __future__ import annotations

import gzip
import json
import math
import queue
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import cast

from .clock import event_time_text, slot_offset_microseconds
from .progress import Progress
from .randomness import derived_random
from .tracking_events import EventFactory
from .tracking_formats import Event
from .tracking_sessions import SessionPool
from .world_model import DemoWorld

BROKEN_LINE_RATE = 1 / 500
BROKEN_LINE_KINDS = ("truncated_json", "invalid_utf8")
INVALID_UTF8_BYTES = b"\xff\xfe"
MINIMUM_EVENTS_FOR_EVERY_BROKEN_KIND = 20
WRITE_BATCH_LINES = 2048
GZIP_LEVEL = 6  # zlib's default: 9 costs twice the time for 2% smaller files
TRACKING_ENCODER = json.JSONEncoder(separators=(", ", ": "))  # as edX's Python logger writes them


@dataclass
class DaySummary:
    """What one tracking file holds; becomes the day's manifest entry."""

    path: Path
    events: int = 0
    broken_lines: Counter[str] = field(default_factory=Counter)
    events_by_kind: Counter[str] = field(default_factory=Counter)
    events_by_course: Counter[str] = field(default_factory=Counter)
    events_without_course: int = 0
    events_with_course_only_in_url: int = 0


@dataclass
class TrackingLogs:
    """What the daily tracking logs hold, for the manifest and the summary line."""

    days: dict[str, DaySummary] = field(default_factory=dict)
    events: int = 0
    broken_lines: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


class BrokenLinePlan:
    """Where broken lines go: after about one event in 500 (geometric gaps), plus one of each kind
    at a fixed slot when the day has enough events, so every file exercises every kind."""

    def __init__(self, rng: random.Random, events_per_day: int) -> None:
        self.rng = rng
        self.next_random_slot = self.gap()
        self.forced_slots: dict[int, str] = {}
        if events_per_day >= MINIMUM_EVENTS_FOR_EVERY_BROKEN_KIND:
            slots = rng.sample(range(events_per_day), len(BROKEN_LINE_KINDS))
            self.forced_slots = dict(zip(slots, BROKEN_LINE_KINDS, strict=True))

    def gap(self) -> int:
        return int(math.log(1.0 - self.rng.random()) / math.log(1.0 - BROKEN_LINE_RATE))

    def kinds_after(self, slot: int, written: Counter[str]) -> list[str]:
        kinds = []
        if slot == self.next_random_slot:
            kinds.append(self.rng.choice(BROKEN_LINE_KINDS))
            self.next_random_slot += 1 + self.gap()
        forced = self.forced_slots.get(slot)
        if forced is not None and written[forced] == 0 and forced not in kinds:
            kinds.append(forced)
        return kinds


def break_line(rng: random.Random, line: bytes, kind: str) -> bytes:
    """A corrupted copy of an event line: cut short (at a character boundary) or with bytes that
    are not UTF-8 inside the username."""
    if kind == "invalid_utf8":
        prefix = b'{"username": "'
        return prefix + INVALID_UTF8_BYTES + line[len(prefix) :]
    cut = rng.randrange(len(line) // 4, len(line) - 2)
    while 0x80 <= line[cut] <= 0xBF:
        cut -= 1
    return line[:cut] + b"\n"


class BackgroundGzipWriter:
    """Writes chunks to a reproducible gzip file (mtime 0, no file name) from a second thread.

    zlib releases the GIL while it compresses, so compression overlaps with generating the next
    events; the bounded queue keeps memory bounded when generation is faster than compression.
    """

    def __init__(self, path: Path) -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self.failure: BaseException | None = None
        self.thread = threading.Thread(
            target=self.compress_chunks, args=(path,), name="gzip-writer", daemon=True
        )
        self.thread.start()

    def compress_chunks(self, path: Path) -> None:
        try:
            with (
                path.open("wb") as raw,
                gzip.GzipFile(
                    filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
                ) as compressed,
            ):
                while (chunk := self.chunks.get()) is not None:
                    compressed.write(chunk)
        except BaseException as error:  # handed to the generating thread in close()
            self.failure = error
            while self.chunks.get() is not None:  # keep draining so write() never blocks forever
                pass

    def write(self, chunk: bytes) -> None:
        self.chunks.put(chunk)

    def close(self) -> None:
        self.chunks.put(None)
        self.thread.join()
        if self.failure is not None:
            raise self.failure

    def __enter__(self) -> BackgroundGzipWriter:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()


def write_tracking_day(world: DemoWorld, day: int, path: Path) -> DaySummary:
    """Stream one day of events into a gzip file, in time order, and count what was written."""
    options = world.options
    rng = derived_random(options.seed, "tracking", day)
    factory = EventFactory(world, rng, day)
    sessions = SessionPool(world, rng, day)
    broken_plan = BrokenLinePlan(rng, options.events_per_day)
    scheduled = world.schedule.get(day, {})
    summary = DaySummary(path)
    encode = TRACKING_ENCODER.encode
    batch: list[bytes] = []
    with BackgroundGzipWriter(path) as compressed:
        for slot in range(options.events_per_day):
            planned = scheduled.get(slot)
            microseconds = slot_offset_microseconds(
                slot, options.events_per_day, 0.5 if planned else rng.random()
            )
            time_text = event_time_text(factory.day_prefix, microseconds)
            if planned is not None:
                kind, event = factory.scheduled_event(planned, time_text)
            else:
                kind, event = factory.activity_event(sessions.pick(), microseconds, time_text)
            line = (encode(event) + "\n").encode()
            batch.append(line)
            count_event(summary, kind, event)
            for broken_kind in broken_plan.kinds_after(slot, summary.broken_lines):
                _, lost_event = factory.activity_event(sessions.pick(), microseconds, time_text)
                batch.append(break_line(rng, (encode(lost_event) + "\n").encode(), broken_kind))
                summary.broken_lines[broken_kind] += 1
            if len(batch) >= WRITE_BATCH_LINES:
                compressed.write(b"".join(batch))
                batch.clear()
        compressed.write(b"".join(batch))
    return summary


def count_event(summary: DaySummary, kind: str, event: Event) -> None:
    summary.events += 1
    summary.events_by_kind[kind] += 1
    course_id = cast(dict[str, str], event["context"])["course_id"]
    if course_id:
        summary.events_by_course[course_id] += 1
        return
    url = event["page"] or event["referer"]
    if isinstance(url, str) and "/courses/course-v1:" in url:
        summary.events_by_course[url.split("/courses/", 1)[1].split("/", 1)[0]] += 1
        summary.events_with_course_only_in_url += 1
    else:
        summary.events_without_course += 1


def write_tracking_logs(world: DemoWorld, progress: Progress) -> TrackingLogs:
    """Every day's tracking log, one after the other, with a progress line for each."""
    options = world.options
    logs = TrackingLogs()
    for day in range(options.days):
        day_date = (options.start_date + timedelta(days=day)).isoformat()
        path = options.out / "tracking" / f"{options.org}-edx-events-{day_date}.log.gz"
        started = time.perf_counter()
        summary = write_tracking_day(world, day, path)
        seconds = time.perf_counter() - started
        logs.days[day_date] = summary
        logs.events += summary.events
        logs.broken_lines.update(summary.broken_lines)
        logs.seconds += seconds
        rate = summary.events / max(seconds, 1e-9)
        broken = sum(summary.broken_lines.values())
        progress.wrote(path, f"{summary.events} events, {broken} broken lines, {rate:,.0f} events/s")
    return logs
