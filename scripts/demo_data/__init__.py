"""The demo-data generator: deterministic, realistic data for every source system the analytics
DAGs read, run as ``python -m scripts.demo_data SOURCE [arguments]`` from the repository root.
One sub-command per source system, listed in ``cli.SOURCES``: ``edx`` (``edx.py``: the research
data package in ``edx_package.py`` and ``edx_tables.py``, the course configs in
``course_configs.py``, the tracking logs in ``tracking_logs.py``, ``tracking_events.py``,
``tracking_formats.py`` and ``tracking_sessions.py``, all drawn from the world of ``world.py``,
``world_model.py`` and ``courses.py``, and accounted for in ``manifest.py``) and ``engagement``
(``engagement.py``, rows from ``engagement_rows.py``: PostgreSQL ``prod``). A new source (BI app
data, messages) is a module with ``add_arguments``, ``options`` and ``run``, plus one line in
``cli.SOURCES``. The same seed and arguments always give the same bytes."""

import sys
from pathlib import Path

# The generator reuses the DAGs' own code (``plugins/analytics``), as the scripts beside it do.
PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
if str(PLUGINS) not in sys.path:
    sys.path.insert(0, str(PLUGINS))
