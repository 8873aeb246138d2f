"""Progress a person can watch while the edX demo data is written: one line on stderr per file,
named by its path under ``--out`` (the same relative paths the manifest lists), and the time
since the run began for the closing summary line."""

from __future__ import annotations

import sys
import time
from pathlib import Path


def relative(path: Path, out: Path) -> str:
    return path.relative_to(out).as_posix()


class Progress:
    """One line per written file on stderr."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.started = time.perf_counter()

    def wrote(self, path: Path, detail: str) -> None:
        print(f"demo_data: wrote {relative(path, self.out)} ({detail})", file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started
