"""The benchmarks of ``make bench``, one module per concern, run through the thin entry points
``scripts/bench.py`` (the engagement ELT: ``engagement.py`` and ``engagement_weekly_views.py``),
``scripts/bench_edx.py`` (the edX course ingestion: ``edx_ingestion.py``) and
``scripts/bench_tracking.py`` (the tracking-log master load: ``tracking.py`` runs
``tracking_events.py``, the generated day of events, ``tracking_own_work.py``, the parse-only pass
and its anchor, ``tracking_database.py``, the comparisons on the MongoDB server, and
``tracking_report.py``, the targets and the printed table). ``common.py`` holds what all three
share: the stack's connections, timing, medians, memory, the machine and the results files."""

import sys
from pathlib import Path

# The benchmarks time the DAGs' own code (``plugins/analytics``), imported as ``analytics``.
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))
