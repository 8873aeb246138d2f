"""Entry point of the engagement ELT benchmark (``make bench``): ``python scripts/bench.py [--help]``.
The benchmark is ``scripts/benchmarks/engagement.py`` (and ``engagement_weekly_views.py``)."""

import sys
from pathlib import Path

# Run as a script, Python puts scripts/ on sys.path; the benchmarks import as scripts.benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.benchmarks.engagement import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
