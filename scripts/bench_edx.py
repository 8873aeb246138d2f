"""Entry point of the edX ingestion benchmark (``make bench``): ``python scripts/bench_edx.py [--help]``.
The benchmark is ``scripts/benchmarks/edx_ingestion.py``."""

import sys
from pathlib import Path

# Run as a script, Python puts scripts/ on sys.path; the benchmarks import as scripts.benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.benchmarks.edx_ingestion import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
