"""Reproducible randomness for the demo data: one independent ``random.Random`` stream per part of
the output, derived from the seed and a label, so that changing how one part is generated leaves
every other part's bytes alone; and the random ids and times the edX side draws from those
streams (hex ids, MongoDB ObjectIds, YouTube ids, a moment inside a span)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

YOUTUBE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def derived_random(seed: int, *labels: object) -> random.Random:
    """An independent, reproducible generator for one part of the output (string seeds are hashed
    with SHA-512 by `random`, so they do not depend on PYTHONHASHSEED)."""
    return random.Random("/".join([str(seed), *map(str, labels)]))


def random_hex(rng: random.Random, digits: int = 32) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def youtube_id(rng: random.Random) -> str:
    return "".join(rng.choice(YOUTUBE_ID_ALPHABET) for _ in range(11))


def object_id(rng: random.Random, created: datetime) -> str:
    """A MongoDB ObjectId: 4 bytes of creation time, then 8 random bytes."""
    return f"{int(created.timestamp()):08x}{random_hex(rng, 16)}"


def random_time_between(rng: random.Random, earliest: datetime, latest: datetime) -> datetime:
    span = max(int((latest - earliest).total_seconds() * 1_000_000), 1)
    return earliest + timedelta(microseconds=rng.randrange(span))
