"""The Airflow Assets that link DAGs which feed each other (see ARCHITECTURE.md, Data flow).

Assets are named, not addressed: the name says what the data is, the same on every deployment,
and a name without a URI scheme keeps DAG files from loading every provider's URI handlers
when they are parsed.
"""

from __future__ import annotations

from airflow.sdk import Asset

EDX_COURSE_DATABASES = Asset("edx_course_databases")
TRACKING_MASTER = Asset("tracking_logs_master")
"""``tracking_logs.tracking``: updated when ``tracking_logs_master_load`` has loaded files."""
COURSE_TRACKING = Asset("edx_course_tracking")
"""Every course database's ``tracking`` collection: updated by ``course_tracking_extraction``."""
TRACKING_LANDING = Asset("edx_tracking_landing")
"""The tracking logs' landing directory: updated when ``s3_log_download`` downloaded new or changed files."""
COURSE_KPIS = Asset("edx_course_kpis")
"""Every course database's KPI collections and the courses' reports: updated by ``course_kpis``."""
