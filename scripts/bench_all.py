"""Entry point of ``make bench``: every benchmark, then one report (``python scripts/bench_all.py
[--small] [--only NAME,...]``). The driver is ``scripts/benchmarks/run_all.py``, the report
``scripts/benchmarks/report.py``."""

import sys
from pathlib import Path

# Run as a script, Python puts scripts/ on sys.path; the benchmarks import as scripts.benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.benchmarks.run_all import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
