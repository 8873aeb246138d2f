"""The Airflow pools that bound how many tasks write to one store at once.

Their sizes are configuration, ``include/config/pools.json`` (the format of ``airflow pools
import``), which the stack loads into Airflow; the DAGs name the pools, from here, on every task
that writes to the store. A task naming a pool that does not exist is never scheduled, so the
pools must be imported before the DAGs run.
"""

from __future__ import annotations

import json
from pathlib import Path

MONGODB_WRITES = "mongodb_writes"
POSTGRES_WRITES = "postgres_writes"
POOLS_FILE = Path(__file__).resolve().parents[2] / "include" / "config" / "pools.json"


def pool_sizes(path: Path = POOLS_FILE) -> dict[str, int]:
    """Each configured pool's slots, by name."""
    return {name: int(spec["slots"]) for name, spec in json.loads(path.read_text()).items()}
