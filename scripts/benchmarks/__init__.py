"""The benchmarks of ``make bench``, one module per concern, run through the thin entry points
``scripts/bench.py`` (the engagement ELT: ``engagement.py`` and ``engagement_weekly_views.py``),
``scripts/bench_edx.py`` (the edX course ingestion: ``edx_ingestion.py``) and
``scripts/bench_tracking.py`` (the tracking-log master load: ``tracking.py`` runs
``tracking_events.py``, the generated day of events, ``tracking_own_work.py``, the parse-only pass
and its anchor, ``tracking_database.py``, the comparisons on the MongoDB server, and
``tracking_report.py``, the targets and the printed table); ``scripts/bench_kpis.py``,
``bench_bi.py`` and ``bench_messages.py`` hold theirs. ``common.py`` holds what all of them share:
the stack's connections, timing, medians, memory, the machine and the results files.

The one report: ``scripts/bench_all.py`` (``make bench``; ``run_all.py``) runs every benchmark; each
writes its figures as a part (``records.py``: a figure beside its anchor, the ratio, the target;
``figures.py``: each benchmark's figures from its results); ``report.py`` assembles the parts, the
machine (``machine.py``) and the run into ``.local/bench/report.md``, ``report.json`` and plots."""

import sys
from pathlib import Path

# The benchmarks time the DAGs' own code (``plugins/analytics``), imported as ``analytics``.
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))
