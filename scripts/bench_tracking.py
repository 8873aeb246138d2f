"""Entry point of the tracking-log benchmark (``make bench``): ``python scripts/bench_tracking.py
[--help]``. The benchmark is ``scripts/benchmarks/tracking.py`` and the modules it names."""

import sys
from pathlib import Path

# Run as a script, Python puts scripts/ on sys.path; the benchmarks import as scripts.benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.benchmarks.tracking import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
